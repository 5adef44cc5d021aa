package io.github.gatehouse.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.ProxyServer;
import java.io.File;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Micrometer is an optional dependency of proxy-core: only {@code core.metrics} may refer to it, nothing else may
 * refer to {@code core.metrics}, and a proxy starts and stops in a class loader that has no Micrometer at all.
 */
class MicrometerIsOptionalTest {
    private static final Path CLASSES = classesDir();

    private static Path classesDir() {
        try {
            return Path.of(ProxyServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void noCoreClassOutsideTheMetricsPackageRefersToMicrometerOrToThatPackage() throws IOException {
        List<String> offenders = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> files = Files.walk(CLASSES)) {
            for (Path p : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class"))::iterator) {
                String name = CLASSES.relativize(p).toString().replace(File.separatorChar, '/');
                if (name.startsWith("io/github/gatehouse/core/metrics/") || name.equals("module-info.class")) {
                    // the module descriptor names Micrometer as "requires static": optional by definition
                    continue;
                }
                scanned++;
                String constants = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
                if (constants.contains("io/micrometer") || constants.contains("io/github/gatehouse/core/metrics")) {
                    offenders.add(name);
                }
            }
        }
        assertThat(scanned).as("classes scanned in " + CLASSES).isGreaterThan(50);
        assertThat(offenders).isEmpty();
    }

    @Test
    void aProxyStartsAndStopsWithoutMicrometerOnTheClassPath() throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String entry : classPath()) {
            if (!entry.contains("micrometer") && !entry.contains("HdrHistogram") && !entry.contains("LatencyUtils")) {
                urls.add(Path.of(entry).toUri().toURL());
            }
        }
        try (URLClassLoader loader = new URLClassLoader("no-micrometer", urls.toArray(URL[]::new),
                ClassLoader.getPlatformClassLoader())) {
            assertThatThrownBy(() -> loader.loadClass("io.micrometer.core.instrument.MeterRegistry"))
                    .isInstanceOf(ClassNotFoundException.class);
            Class<?> server = loader.loadClass(ProxyServer.class.getName());
            assertThat(server.getClassLoader()).isSameAs(loader);
            Object builder = server.getMethod("builder").invoke(null);
            builder.getClass().getMethod("forward").invoke(builder);
            Object proxy = builder.getClass().getMethod("build").invoke(builder);
            server.getMethod("start").invoke(proxy);
            assertThat(server.getMethod("isRunning").invoke(proxy)).isEqualTo(true);
            server.getMethod("close").invoke(proxy);
        }
    }

    /** The test class path, read through surefire's manifest-only jar when it uses one. */
    private static List<String> classPath() throws IOException {
        List<String> entries = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (e.contains("surefirebooter") && e.endsWith(".jar")) {
                try (JarFile jar = new JarFile(e)) {
                    String cp = jar.getManifest().getMainAttributes().getValue("Class-Path");
                    for (String u : cp.split(" ")) {
                        if (!u.isBlank()) {
                            entries.add(Path.of(java.net.URI.create(u)).toString());
                        }
                    }
                }
            } else {
                entries.add(e);
            }
        }
        assertThat(entries).anyMatch(e -> e.contains("jetty-server"));
        return entries;
    }
}
