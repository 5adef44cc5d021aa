package io.github.gatehouse.core.testsupport;

import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away certificate authority made at test time (never committed): it issues server certificates for given
 * names, writes them as PEM (PKCS#8, PKCS#1 or SEC 1 keys) or PKCS#12, and gives a client {@link SSLContext} that
 * trusts it. Bouncy Castle issues the certificates: the JDK has no public API for it.
 */
public final class TestPki {
    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());
    private final KeyPair caKeys;
    private final X509Certificate caCertificate;

    /** How a PEM private key is written. */
    public enum KeyFormat { PKCS8, TRADITIONAL }

    /** A certificate the CA issued, with its key. */
    public record Issued(X509Certificate certificate, PrivateKey key, X509Certificate ca) {
        /** Writes {@code name.crt} (the certificate, then the CA's) and {@code name.key} in {@code dir}. */
        public Path[] writePem(Path dir, String name, KeyFormat format) throws Exception {
            Path crt = dir.resolve(name + ".crt");
            Path key = dir.resolve(name + ".key");
            Files.writeString(crt, pem("CERTIFICATE", certificate.getEncoded()) + pem("CERTIFICATE", ca.getEncoded()));
            if (format == KeyFormat.PKCS8) {
                Files.writeString(key, pem("PRIVATE KEY", this.key.getEncoded()));
            } else {
                StringWriter w = new StringWriter();
                try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
                    pw.writeObject(this.key); // RSA PRIVATE KEY (PKCS#1) or EC PRIVATE KEY (SEC 1)
                }
                Files.writeString(key, w.toString());
            }
            return new Path[] {crt, key};
        }

        /** Writes a PKCS#12 key store with one entry, {@code alias}. */
        public Path writePkcs12(Path file, String alias, char[] password) throws Exception {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry(alias, key, password, new Certificate[] {certificate, ca});
            try (OutputStream out = Files.newOutputStream(file)) {
                ks.store(out, password);
            }
            return file;
        }

        /** The certificate's subject common name. */
        public String commonName() {
            return certificate.getSubjectX500Principal().getName();
        }
    }

    private TestPki(KeyPair caKeys, X509Certificate caCertificate) {
        this.caKeys = caKeys;
        this.caCertificate = caCertificate;
    }

    /** A new CA with an EC P-256 key, valid for a day. */
    public static TestPki create(String name) throws Exception {
        KeyPair keys = ec();
        X500Name subject = new X500Name("CN=" + name);
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, BigInteger.valueOf(SERIAL.incrementAndGet()),
                Date.from(Instant.now().minus(Duration.ofHours(1))), Date.from(Instant.now().plus(Duration.ofDays(1))),
                subject, keys.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
        return new TestPki(keys, cert);
    }

    /** A server certificate with an EC P-256 key for {@code names} (DNS names or IP literals), CN the first name. */
    public Issued issue(String... names) throws Exception {
        return issue(ec(), names);
    }

    /** As {@link #issue}, with an RSA 2048 key. */
    public Issued issueRsa(String... names) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        return issue(g.generateKeyPair(), names);
    }

    private Issued issue(KeyPair keys, String... names) throws Exception {
        List<GeneralName> san = new ArrayList<>();
        for (String n : names) {
            boolean ip = n.matches("[0-9.]+") || n.contains(":");
            san.add(ip ? new GeneralName(GeneralName.iPAddress, InetAddress.getByName(n).getHostAddress())
                    : new GeneralName(GeneralName.dNSName, n));
        }
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                new X500Name(caCertificate.getSubjectX500Principal().getName()), BigInteger.valueOf(SERIAL.incrementAndGet()),
                Date.from(Instant.now().minus(Duration.ofHours(1))), Date.from(Instant.now().plus(Duration.ofDays(1))),
                new X500Name("CN=" + names[0]), keys.getPublic());
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(san.toArray(new GeneralName[0])));
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));
        return new Issued(cert, keys.getPrivate(), caCertificate);
    }

    /** The CA certificate as PEM. */
    public String caPem() throws Exception {
        return pem("CERTIFICATE", caCertificate.getEncoded());
    }

    /** A client context that trusts this CA only. */
    public SSLContext clientContext() throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", caCertificate);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private static KeyPair ec() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
