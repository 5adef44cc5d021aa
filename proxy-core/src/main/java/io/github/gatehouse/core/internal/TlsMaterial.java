package io.github.gatehouse.core.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads certificate chains and private keys (PEM or PKCS#12) into one in-memory key store, an alias per chain, for
 * the TLS listener. JDK only: a PKCS#1 RSA key or a SEC 1 EC key is rewrapped as PKCS#8 by hand (a few bytes of DER),
 * which keeps Bouncy Castle out of the library. Stateless and thread-safe.
 */
public final class TlsMaterial {
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
    /** rsaEncryption, 1.2.840.113549.1.1.1, with its NULL parameters. */
    private static final byte[] RSA_ALGORITHM = hex("300d06092a864886f70d0101010500");
    /** id-ecPublicKey, 1.2.840.10045.2.1. */
    private static final byte[] EC_PUBLIC_KEY_OID = hex("06072a8648ce3d0201");

    private TlsMaterial() {
    }

    /** One certificate source: a PEM chain and key, or a PKCS#12 key store. Immutable. */
    public record Source(Path certificate, Path key, Path keyStore, char[] password) {
        /** A PEM chain and key. */
        public static Source pem(Path certificate, Path key) {
            return new Source(certificate, key, null, null);
        }

        /** A PKCS#12 key store (the password is kept as given: the caller copies it). */
        public static Source pkcs12(Path keyStore, char[] password) {
            return new Source(null, null, keyStore, password);
        }

        /** The files this source reads. */
        public List<Path> files() {
            return keyStore != null ? List.of(keyStore) : certificate.equals(key) ? List.of(certificate) : List.of(certificate, key);
        }

        @Override
        public String toString() {
            return keyStore != null ? "pkcs12:" + keyStore : "pem:" + certificate + "+" + key;
        }
    }

    /** A loaded key store: each alias in source order (the first is the default), and the key password. */
    public record Loaded(KeyStore keyStore, char[] password, List<String> aliases, List<X509Certificate> leaves) {
    }

    /**
     * Reads and checks one source.
     *
     * @throws IllegalArgumentException naming the file and what is wrong with it
     */
    public static void check(Source source) {
        load(List.of(source));
    }

    /**
     * Reads every source into one key store.
     *
     * @throws IllegalArgumentException naming the file and what is wrong with it
     */
    public static Loaded load(List<Source> sources) {
        char[] password = "gatehouse".toCharArray(); // protects the in-memory store only
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            List<String> aliases = new ArrayList<>();
            List<X509Certificate> leaves = new ArrayList<>();
            for (Source s : sources) {
                if (s.keyStore() != null) {
                    KeyStore in = readPkcs12(s.keyStore(), s.password());
                    List<String> names = Collections.list(in.aliases());
                    Collections.sort(names);
                    boolean any = false;
                    for (String name : names) {
                        if (!in.isKeyEntry(name)) {
                            continue;
                        }
                        PrivateKey key;
                        try {
                            key = (PrivateKey) in.getKey(name, s.password());
                        } catch (GeneralSecurityException e) {
                            throw new IllegalArgumentException(s.keyStore() + ": cannot read the key of entry '" + name
                                    + "' with the key store's password (" + e.getMessage() + ")", e);
                        }
                        Certificate[] chain = in.getCertificateChain(name);
                        if (key == null || chain == null || chain.length == 0) {
                            continue;
                        }
                        String alias = "gatehouse-" + aliases.size();
                        ks.setKeyEntry(alias, key, password, chain);
                        aliases.add(alias);
                        leaves.add((X509Certificate) chain[0]);
                        any = true;
                    }
                    if (!any) {
                        throw new IllegalArgumentException(s.keyStore() + ": no private key entry with a certificate chain");
                    }
                } else {
                    List<X509Certificate> chain = readCertificates(s.certificate());
                    PrivateKey key = readPrivateKey(s.key(), chain.get(0));
                    checkPair(key, chain.get(0), s);
                    String alias = "gatehouse-" + aliases.size();
                    ks.setKeyEntry(alias, key, password, chain.toArray(new Certificate[0]));
                    aliases.add(alias);
                    leaves.add(chain.get(0));
                }
            }
            return new Loaded(ks, password, List.copyOf(aliases), List.copyOf(leaves));
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("cannot build the TLS key store: " + e.getMessage(), e);
        }
    }

    /**
     * A digest of the files' contents, to tell whether a reload is due; a file that cannot be read digests as its
     * error, so it changes when it comes back.
     */
    public static String fingerprint(List<Source> sources) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (Source s : sources) {
                for (Path p : s.files()) {
                    try {
                        md.update(Files.readAllBytes(p));
                    } catch (IOException e) {
                        md.update(("unreadable " + p + " " + e).getBytes(StandardCharsets.UTF_8));
                    }
                    md.update((byte) 0);
                }
            }
            return Base64.getEncoder().encodeToString(md.digest());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static KeyStore readPkcs12(Path file, char[] password) {
        try (InputStream in = Files.newInputStream(file)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password);
            return ks;
        } catch (IOException e) {
            String why = e.getCause() instanceof java.security.UnrecoverableKeyException
                    || String.valueOf(e.getMessage()).contains("password") ? "wrong password?" : String.valueOf(e.getMessage());
            throw new IllegalArgumentException(file + ": cannot read the PKCS#12 key store (" + why + ")", e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(file + ": cannot read the PKCS#12 key store (" + e.getMessage() + ")", e);
        }
    }

    /** The certificates of PEM file {@code file}, in order; at least one. @throws IllegalArgumentException if none */
    public static List<X509Certificate> readCertificates(Path file) {
        String text = readText(file);
        List<X509Certificate> chain = new ArrayList<>();
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            Matcher m = PEM.matcher(text);
            while (m.find()) {
                if (m.group(1).equals("CERTIFICATE")) {
                    chain.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(decode(m.group(2), file))));
                }
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(file + ": not a valid X.509 certificate (" + e.getMessage() + ")", e);
        }
        if (chain.isEmpty()) {
            throw new IllegalArgumentException(file + ": no PEM certificate (expected: -----BEGIN CERTIFICATE----- blocks)");
        }
        return chain;
    }

    private static PrivateKey readPrivateKey(Path file, X509Certificate certificate) {
        String text = readText(file);
        Matcher m = PEM.matcher(text);
        while (m.find()) {
            String type = m.group(1);
            switch (type) {
                case "PRIVATE KEY":
                    return pkcs8(decode(m.group(2), file), file);
                case "RSA PRIVATE KEY":
                    return pkcs8(der(0x30, concat(hex("020100"), RSA_ALGORITHM, der(0x04, decode(m.group(2), file)))), file);
                case "EC PRIVATE KEY":
                    byte[] sec1 = decode(m.group(2), file);
                    byte[] curve = ecCurveOid(sec1, file, certificate);
                    return pkcs8(der(0x30, concat(hex("020100"), der(0x30, concat(EC_PUBLIC_KEY_OID, curve)), der(0x04, sec1))), file);
                case "ENCRYPTED PRIVATE KEY":
                    throw new IllegalArgumentException(file + ": the private key is encrypted (expected: an unencrypted key;"
                            + " openssl pkey -in KEY -out PLAIN_KEY decrypts it)");
                default:
                    break; // EC PARAMETERS, CERTIFICATE (a combined file), ...
            }
        }
        if (text.contains("Proc-Type: 4,ENCRYPTED")) {
            throw new IllegalArgumentException(file + ": the private key is encrypted (expected: an unencrypted key)");
        }
        throw new IllegalArgumentException(file + ": no PEM private key (expected: BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY"
                + " or BEGIN EC PRIVATE KEY)");
    }

    private static PrivateKey pkcs8(byte[] der, Path file) {
        for (String algorithm : new String[] {"RSA", "EC", "EdDSA", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (InvalidKeySpecException | java.security.NoSuchAlgorithmException e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException(file + ": unsupported or corrupt private key (expected: RSA, EC or EdDSA)");
    }

    /**
     * The named-curve OID in a SEC 1 ECPrivateKey's {@code [0] parameters}, or, when the key leaves them out (they are
     * optional), the curve of the certificate's public key.
     */
    private static byte[] ecCurveOid(byte[] sec1, Path file, X509Certificate certificate) {
        // ECPrivateKey ::= SEQUENCE { version INTEGER, privateKey OCTET STRING, [0] ECParameters OPTIONAL, [1] ... }
        try {
            int[] pos = {0};
            expect(sec1, pos, 0x30);
            readLength(sec1, pos);
            while (pos[0] < sec1.length) {
                int tag = sec1[pos[0]++] & 0xff;
                int len = readLength(sec1, pos);
                if (tag == 0xa0) {
                    if ((sec1[pos[0]] & 0xff) != 0x06) {
                        break;
                    }
                    int start = pos[0];
                    pos[0]++;
                    int oidLen = readLength(sec1, pos);
                    byte[] oid = new byte[pos[0] - start + oidLen];
                    System.arraycopy(sec1, start, oid, 0, oid.length);
                    return oid;
                }
                pos[0] += len;
            }
        } catch (ArrayIndexOutOfBoundsException e) {
            throw new IllegalArgumentException(file + ": corrupt EC private key", e);
        }
        if (certificate.getPublicKey() instanceof java.security.interfaces.ECPublicKey) {
            try {
                java.security.AlgorithmParameters params = java.security.AlgorithmParameters.getInstance("EC");
                params.init(((java.security.interfaces.ECPublicKey) certificate.getPublicKey()).getParams());
                byte[] oid = params.getEncoded();
                if (oid.length > 0 && oid[0] == 0x06) {
                    return oid;
                }
            } catch (GeneralSecurityException | IOException e) {
                // fall through
            }
        }
        throw new IllegalArgumentException(file + ": EC private key without a named curve (expected: openssl's default"
                + " form, or a PKCS#8 key)");
    }

    private static void expect(byte[] der, int[] pos, int tag) {
        if ((der[pos[0]++] & 0xff) != tag) {
            throw new ArrayIndexOutOfBoundsException("unexpected tag");
        }
    }

    private static int readLength(byte[] der, int[] pos) {
        int b = der[pos[0]++] & 0xff;
        if (b < 0x80) {
            return b;
        }
        int n = b & 0x7f;
        int len = 0;
        for (int i = 0; i < n; i++) {
            len = (len << 8) | (der[pos[0]++] & 0xff);
        }
        return len;
    }

    private static byte[] der(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 6);
        out.write(tag);
        int len = content.length;
        if (len < 0x80) {
            out.write(len);
        } else if (len < 0x100) {
            out.write(0x81);
            out.write(len);
        } else if (len < 0x10000) {
            out.write(0x82);
            out.write(len >> 8);
            out.write(len);
        } else {
            out.write(0x83);
            out.write(len >> 16);
            out.write(len >> 8);
            out.write(len);
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] hex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }

    private static void checkPair(PrivateKey key, X509Certificate certificate, Source source) {
        String algorithm = switch (key.getAlgorithm().toUpperCase(Locale.ROOT)) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "EDDSA", "ED25519" -> "Ed25519";
            case "ED448" -> "Ed448";
            default -> null;
        };
        if (algorithm == null) {
            return; // the handshake will tell
        }
        try {
            byte[] probe = "gatehouse key check".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(probe);
            if (verifier.verify(signature)) {
                return;
            }
        } catch (GeneralSecurityException e) {
            // a key of another type than the certificate's: a mismatch too
        }
        throw new IllegalArgumentException(source.key() + ": the private key does not belong to the first certificate of "
                + source.certificate() + " (" + certificate.getSubjectX500Principal().getName() + ")");
    }

    private static String readText(Path file) {
        try {
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read (" + e + ")", e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a PEM text file", e);
        }
    }

    private static byte[] decode(String base64, Path file) {
        try {
            return Base64.getMimeDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": corrupt PEM block (" + e.getMessage() + ")", e);
        }
    }
}
