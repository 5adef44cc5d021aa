package io.github.gatehouse.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.gatehouse.core.cluster.ClusterConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The --cluster-* flags and their YAML keys (no member is started here). */
class ClusterFlagsTest {
    @TempDir
    Path dir;

    @Test
    void flagsMakeTheClusterConfig() throws Exception {
        LauncherOptions o = LauncherOptions.parse("reverse", "--upstream", "http://127.0.0.1:1", "--cache-memory", "64m",
                "--cluster-port", "5702", "--cluster-member", "10.0.0.2:5701", "--cluster-member", "10.0.0.3",
                "--cluster-name", "edge", "--cluster-bind", "10.0.0.1");
        ClusterConfig c = o.clusterConfig();
        assertThat(o.clustered()).isTrue();
        assertThat(c.port()).isEqualTo(5702);
        assertThat(c.bindHost()).isEqualTo("10.0.0.1");
        assertThat(c.members()).containsExactly("10.0.0.2:5701", "10.0.0.3");
        assertThat(c.name()).isEqualTo("edge");
        assertThat(LauncherOptions.parse("forward").clustered()).isFalse();
    }

    @Test
    void yamlKeysAreTheFlagNames() throws Exception {
        Path f = Files.writeString(dir.resolve("gatehouse.yaml"), "mode: forward\ncache-memory: 16m\ncluster-port: 5710\n"
                + "cluster-member:\n  - 127.0.0.1:5711\n  - 127.0.0.1:5712\ncluster-name: lab\n");
        ClusterConfig c = ConfigFile.options("--config", f.toString()).clusterConfig();
        assertThat(c.port()).isEqualTo(5710);
        assertThat(c.members()).containsExactly("127.0.0.1:5711", "127.0.0.1:5712");
        assertThat(c.name()).isEqualTo("lab");
        assertThat(c.bindHost()).isEqualTo("127.0.0.1");
    }

    @Test
    void badValuesAreUsageErrors() {
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cluster-member", "host:99999"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("cluster member: 'host:99999'");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cluster-port", "0"))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("--cluster-port");
        assertThatThrownBy(() -> LauncherOptions.parse("forward", "--cluster-port", "5701", "--cache-dir", dir.toString()))
                .isInstanceOf(LauncherOptions.UsageException.class).hasMessageContaining("--cache-dir does not combine");
    }
}
