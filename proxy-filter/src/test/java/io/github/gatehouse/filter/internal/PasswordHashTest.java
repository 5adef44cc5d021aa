package io.github.gatehouse.filter.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import at.favre.lib.crypto.bcrypt.BCrypt;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PasswordHashTest {

    /** Vectors from Drepper's specification, cross-checked with {@code openssl passwd -5/-6}. */
    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "Hello world!|$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        "Hello world!|$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "Hello world!|$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
        "a very much longer text to encrypt.  This one even stretches over morethan one line.|$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
        "pässwörd|$6$abc$wXvLgMChht3U87i888StiQy1W/EK2Ge3H6rxIRM8l0prwhG1icmLmgEOcYMiXbSth/t5JyRjjVGbqvVEQ7j9n/",
    })
    void shaCryptMatchesPublishedVectors(String password, String hash) {
        byte[] pw = password.getBytes(StandardCharsets.UTF_8);
        assertThat(ShaCrypt.crypt(pw, hash)).isEqualTo(hash);
        assertThat(PasswordHash.parse(hash).verify(password)).isTrue();
        assertThat(PasswordHash.parse(hash).verify(password + "x")).isFalse();
    }

    @Test
    void shaCryptClampsRoundsAndTruncatesSaltAsTheSpecSays() {
        // rounds=10 is raised to 1000; a 19-character salt is cut to 16
        String h = ShaCrypt.crypt("x".getBytes(StandardCharsets.UTF_8), "$5$rounds=10$0123456789abcdefXYZ");
        assertThat(h).startsWith("$5$rounds=1000$0123456789abcdef$");
        assertThat(ShaCrypt.verify("x".getBytes(StandardCharsets.UTF_8), h)).isTrue();
    }

    @ParameterizedTest
    @CsvSource({"$2a$", "$2b$", "$2y$"})
    void bcryptVariantsVerifyAgainstTheJbcryptVector(String prefix) {
        String hash = prefix + "06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i";
        PasswordHash h = PasswordHash.parse(hash);
        assertThat(h.verify("abc")).isTrue();
        assertThat(h.verify("abd")).isFalse();
        assertThat(h.isSlow()).isTrue();
        assertThat(h.toString()).doesNotContain("If6bvum");
    }

    @Test
    void bcryptFromTheLibraryAndLongPasswordsVerify() {
        String longPassword = "p".repeat(100);
        String hash = BCrypt.withDefaults().hashToString(4, "secret".toCharArray());
        assertThat(PasswordHash.parse(hash).verify("secret")).isTrue();
        assertThat(PasswordHash.parse("$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.").verify("")).isTrue();
        assertThat(PasswordHash.parse("$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.").verify(longPassword)).isFalse();
    }

    /** Vectors from {@code openssl passwd -apr1} and {@code -1}. */
    @ParameterizedTest(name = "{1}")
    @CsvSource(delimiter = '|', value = {
        "password|$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/",
        "Hello world!|$apr1$abc$T9e3aXgBW7UTQ.tuLuiz.1",
        "password|$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/",
        "a very long password that exceeds sixteen bytes|$apr1$x$WA5XFCUz/GeRB0EqPLhGh.",
    })
    void md5CryptMatchesOpensslVectors(String password, String hash) {
        assertThat(Md5Crypt.crypt(password.getBytes(StandardCharsets.UTF_8), hash)).isEqualTo(hash);
        assertThat(PasswordHash.parse(hash).verify(password)).isTrue();
        assertThat(PasswordHash.parse(hash).verify(password.toUpperCase())).isFalse();
    }

    @Test
    void shaOneAndPlainVerify() {
        assertThat(PasswordHash.parse("{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=").verify("test")).isTrue();
        assertThat(PasswordHash.plain("wonder").verify("wonder")).isTrue();
        assertThat(PasswordHash.plain("wonder").verify("Wonder")).isFalse();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "$apr1$abc$def|MD5-crypt hash is malformed",
        "$7$CU..../....abc$xyz|unsupported hash $7$",
        "plaintext|unsupported hash format",
        "$2y$03$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i|bcrypt cost 3",
        "$2y$10$short|bcrypt hash has 12 characters",
        "$6$rounds=9000000$salt$x|SHA-crypt rounds 9000000",
    })
    void rejectsUnsupportedOrDangerousHashesWithoutQuotingThem(String hash, String message) {
        assertThatThrownBy(() -> PasswordHash.parse(hash)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }
}
