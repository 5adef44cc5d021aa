package io.github.gatehouse.core.internal;

import com.google.common.cache.Cache;
import com.google.common.cache.CacheBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Issues the certificates of HTTPS inspection with Bouncy Castle (the JDK has no public API to issue X.509
 * certificates): a CA for {@code gatehouse.jar ca}, and leaf certificates for intercepted names, EC P-256, signed by
 * the inspection CA, cached (bounded, and each kept for at most a day: they are valid for a few days).
 *
 * <p>Bouncy Castle is an optional dependency of proxy-core: it is touched only here, and only when inspection is
 * configured, so an application that never intercepts does not need it.
 *
 * <p><b>Threading.</b> Thread-safe. Minting costs a key generation and a signature (about a millisecond); concurrent
 * requests for one name mint once.
 */
public final class CertificateMinter {
    /** A minted leaf certificate with its key, and the CA certificate to send after it. */
    record Minted(PrivateKey key, X509Certificate[] chain) {
    }

    private final PrivateKey caKey;
    private final X509Certificate caCertificate;
    private final KeyPair leafKeys;
    private final Cache<String, Minted> cache;
    private final SecureRandom random = new SecureRandom();

    CertificateMinter(PrivateKey caKey, X509Certificate caCertificate, int cacheSize) {
        requireBouncyCastle();
        this.caKey = caKey;
        this.caCertificate = caCertificate;
        // One key pair for every leaf of this run (as mitmproxy does): the key never leaves the process, and key
        // generation is the costly part of minting.
        this.leafKeys = ec();
        this.cache = CacheBuilder.newBuilder().maximumSize(cacheSize).expireAfterWrite(1, TimeUnit.DAYS).build();
    }

    /** The CA certificate. */
    X509Certificate caCertificate() {
        return caCertificate;
    }

    /**
     * A leaf for {@code name} (DNS name or IP literal) with the subject alternative names {@code originNames} (the
     * origin certificate's DNS names and IP addresses), {@code name} always among them.
     */
    Minted mint(String name, List<String> originNames) {
        Set<String> names = new LinkedHashSet<>();
        names.add(name.toLowerCase(Locale.ROOT));
        for (String n : originNames) {
            names.add(n.toLowerCase(Locale.ROOT));
        }
        String key = String.join(",", names);
        try {
            return cache.get(key, () -> issue(new ArrayList<>(names)));
        } catch (ExecutionException | com.google.common.util.concurrent.UncheckedExecutionException e) {
            throw new IllegalStateException("cannot mint a certificate for " + name + ": " + e.getCause(), e.getCause());
        }
    }

    /** Certificates minted and still cached. */
    long cached() {
        return cache.size();
    }

    private Minted issue(List<String> names) throws Exception {
        List<org.bouncycastle.asn1.x509.GeneralName> san = new ArrayList<>();
        for (String n : names) {
            san.add(isIpLiteral(n)
                    ? new org.bouncycastle.asn1.x509.GeneralName(org.bouncycastle.asn1.x509.GeneralName.iPAddress,
                            InetAddress.getByName(n).getHostAddress())
                    : new org.bouncycastle.asn1.x509.GeneralName(org.bouncycastle.asn1.x509.GeneralName.dNSName, n));
        }
        Instant now = Instant.now();
        String cn = names.get(0).replace(",", "").replace("=", "");
        org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder b = new org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder(
                caCertificate, new BigInteger(64, random).abs().add(BigInteger.ONE),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(3))),
                new javax.security.auth.x500.X500Principal("CN=" + cn + ", O=Gatehouse HTTPS inspection"), leafKeys.getPublic());
        b.addExtension(org.bouncycastle.asn1.x509.Extension.subjectAlternativeName, false,
                new org.bouncycastle.asn1.x509.GeneralNames(san.toArray(new org.bouncycastle.asn1.x509.GeneralName[0])));
        b.addExtension(org.bouncycastle.asn1.x509.Extension.basicConstraints, true,
                new org.bouncycastle.asn1.x509.BasicConstraints(false));
        b.addExtension(org.bouncycastle.asn1.x509.Extension.keyUsage, true,
                new org.bouncycastle.asn1.x509.KeyUsage(org.bouncycastle.asn1.x509.KeyUsage.digitalSignature));
        b.addExtension(org.bouncycastle.asn1.x509.Extension.extendedKeyUsage, false,
                new org.bouncycastle.asn1.x509.ExtendedKeyUsage(org.bouncycastle.asn1.x509.KeyPurposeId.id_kp_serverAuth));
        X509Certificate leaf = new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(
                b.build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder(signatureAlgorithm(caKey)).build(caKey)));
        return new Minted(leafKeys.getPrivate(), new X509Certificate[] {leaf, caCertificate});
    }

    static boolean isIpLiteral(String n) {
        return n.indexOf(':') >= 0 || n.matches("[0-9.]+");
    }

    private static String signatureAlgorithm(PrivateKey key) {
        return "RSA".equals(key.getAlgorithm()) ? "SHA256withRSA" : "SHA256withECDSA";
    }

    /**
     * Writes a new inspection CA into {@code dir}: {@code ca.pem} and {@code ca-key.pem} (PKCS#8, owner-only where
     * POSIX permissions exist). See {@code Interception.writeNewCa}.
     */
    public static List<Path> writeNewCa(Path dir, String commonName) {
        requireBouncyCastle();
        Path cert = dir.resolve("ca.pem");
        Path key = dir.resolve("ca-key.pem");
        if (Files.exists(cert) || Files.exists(key)) {
            throw new IllegalArgumentException(dir + " already holds ca.pem or ca-key.pem (expected: an empty or new directory;"
                    + " a CA is never overwritten)");
        }
        try {
            Files.createDirectories(dir);
            KeyPair keys = ec();
            Instant now = Instant.now();
            javax.security.auth.x500.X500Principal subject =
                    new javax.security.auth.x500.X500Principal("CN=" + commonName.replace(",", "").replace("=", ""));
            org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder b = new org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder(
                    subject, new BigInteger(64, new SecureRandom()).abs().add(BigInteger.ONE),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(3650))), subject, keys.getPublic());
            b.addExtension(org.bouncycastle.asn1.x509.Extension.basicConstraints, true,
                    new org.bouncycastle.asn1.x509.BasicConstraints(0));
            b.addExtension(org.bouncycastle.asn1.x509.Extension.keyUsage, true, new org.bouncycastle.asn1.x509.KeyUsage(
                    org.bouncycastle.asn1.x509.KeyUsage.keyCertSign | org.bouncycastle.asn1.x509.KeyUsage.cRLSign));
            b.addExtension(org.bouncycastle.asn1.x509.Extension.subjectKeyIdentifier, false,
                    new org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils().createSubjectKeyIdentifier(keys.getPublic()));
            X509Certificate ca = new org.bouncycastle.cert.jcajce.JcaX509CertificateConverter().getCertificate(
                    b.build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
            Files.writeString(key, "", StandardCharsets.US_ASCII);
            try {
                Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system: the directory's permissions are all there is
            }
            Files.writeString(key, pem("PRIVATE KEY", keys.getPrivate().getEncoded()), StandardCharsets.US_ASCII);
            Files.writeString(cert, pem("CERTIFICATE", ca.getEncoded()), StandardCharsets.US_ASCII);
            return List.of(cert, key);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the CA into " + dir + ": " + e.getMessage(), e);
        } catch (Exception e) {
            throw new IllegalStateException("cannot make a CA: " + e.getMessage(), e);
        }
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static KeyPair ec() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no EC P-256 key generator in this JDK", e);
        }
    }

    private static void requireBouncyCastle() {
        try {
            Class.forName("org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder", false, CertificateMinter.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("HTTPS inspection mints certificates with Bouncy Castle, which is not on the "
                    + "class path (expected: a dependency on org.bouncycastle:bcpkix-jdk18on)");
        }
    }
}
