package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.cache.SharedCache;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.filter.RateLimits;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Hazelcast is optional in proxy-core, proxy-cache and proxy-filter: only the cluster classes refer to it, so an
 * application with a single instance never loads it.
 */
class HazelcastIsOptionalTest {
    private static final Set<String> ALLOWED = Set.of("io/github/gatehouse/core/cluster/",
            // the shared stores' way to a Cluster's member: only code that holds a Cluster loads it
            "io/github/gatehouse/core/internal/ClusterAccess",
            "io/github/gatehouse/cache/internal/GridStore", "io/github/gatehouse/filter/internal/SharedTokenBuckets",
            "io/github/gatehouse/filter/internal/SharedLockouts");

    @Test
    void onlyTheClusterClassesReferToHazelcast() throws Exception {
        List<String> offenders = new ArrayList<>();
        int scanned = 0;
        for (Class<?> anchor : List.of(ProxyServer.class, SharedCache.class, RateLimits.class)) {
            Path classes = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(classes)) { // a module's jar (mvn verify)
                try (java.util.jar.JarFile jar = new java.util.jar.JarFile(classes.toFile())) {
                    for (var e : java.util.Collections.list(jar.entries())) {
                        String name = e.getName();
                        if (!name.endsWith(".class") || ALLOWED.stream().anyMatch(name::startsWith)) {
                            continue;
                        }
                        scanned++;
                        try (var in = jar.getInputStream(e)) {
                            if (new String(in.readAllBytes(), StandardCharsets.ISO_8859_1).contains("com/hazelcast")) {
                                offenders.add(name);
                            }
                        }
                    }
                }
                continue;
            }
            try (Stream<Path> files = Files.walk(classes)) {
                for (Path p : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class"))::iterator) {
                    String name = classes.relativize(p).toString().replace(File.separatorChar, '/');
                    if (ALLOWED.stream().anyMatch(name::startsWith)) {
                        continue;
                    }
                    scanned++;
                    if (new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1).contains("com/hazelcast")) {
                        offenders.add(name);
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException("cannot scan " + classes, e);
            }
        }
        assertThat(scanned).isGreaterThan(100);
        assertThat(offenders).isEmpty();
    }
}
