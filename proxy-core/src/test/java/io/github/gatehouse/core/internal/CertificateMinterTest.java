package io.github.gatehouse.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.Interception;
import io.github.gatehouse.core.Tls;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Minting without sockets: names and IP addresses, the CA's signature, the cache, and the host patterns. */
class CertificateMinterTest {
    @TempDir
    Path dir;

    @Test
    void mintsLeavesWithTheOriginsNamesSignedByTheCaAndCachesThem() throws Exception {
        List<Path> ca = Interception.writeNewCa(dir, "Minter Test CA");
        TlsMaterial.Loaded loaded = TlsMaterial.load(List.of(TlsMaterial.Source.pem(ca.get(0), ca.get(1))));
        KeyStore ks = loaded.keyStore();
        String alias = loaded.aliases().get(0);
        X509Certificate caCert = (X509Certificate) ks.getCertificate(alias);
        CertificateMinter minter = new CertificateMinter((PrivateKey) ks.getKey(alias, loaded.password()), caCert, 2);

        CertificateMinter.Minted m = minter.mint("www.example.test", List.of("example.test", "*.example.test"));
        X509Certificate leaf = m.chain()[0];
        leaf.verify(caCert.getPublicKey());
        assertThat(m.chain()[1]).isEqualTo(caCert);
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
        List<Object> names = new java.util.ArrayList<>();
        leaf.getSubjectAlternativeNames().forEach(san -> names.add(san.get(1)));
        assertThat(names).containsExactly("www.example.test", "example.test", "*.example.test");
        assertThat(minter.mint("www.example.test", List.of("example.test", "*.example.test"))).isSameAs(m);

        X509Certificate ip = minter.mint("127.0.0.1", List.of()).chain()[0];
        assertThat(ip.getSubjectAlternativeNames()).hasSize(1);
        List<?> ipSan = ip.getSubjectAlternativeNames().iterator().next();
        assertThat(ipSan.get(0)).isEqualTo(7); // iPAddress
        assertThat(ipSan.get(1)).isEqualTo("127.0.0.1");
        minter.mint("a.test", List.of());
        minter.mint("b.test", List.of());
        assertThat(minter.cached()).isLessThanOrEqualTo(2); // bounded
    }

    @Test
    void hostPatternsAndTheNeverList() throws Exception {
        List<Path> ca = Interception.writeNewCa(dir, "Pattern CA");
        Interception none = Interception.withCa(Tls.pem(ca.get(0), ca.get(1)));
        assertThat(none.intercepts("example.com")).isFalse(); // default: nothing
        Interception i = none.intercept("*.example.com", "exact.test").neverIntercept("bank.example.com");
        Object[][] cases = {
            {"www.example.com", true}, {"WWW.Example.COM.", true}, {"example.com", false}, {"bank.example.com", false},
            {"exact.test", true}, {"sub.exact.test", false}, {"other.test", false},
        };
        for (Object[] c : cases) {
            assertThat(i.intercepts((String) c[0])).as((String) c[0]).isEqualTo(c[1]);
        }
        Interception all = none.intercept("*").neverIntercept("*.bank.test", "10.0.0.1");
        assertThat(all.intercepts("anything.test")).isTrue();
        assertThat(all.intercepts("www.bank.test")).isFalse();
        assertThat(all.intercepts("10.0.0.1")).isFalse();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> none.intercept("a*b"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a*b");
    }
}
