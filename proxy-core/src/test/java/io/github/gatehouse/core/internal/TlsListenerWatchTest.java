package io.github.gatehouse.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.gatehouse.core.testsupport.TestPki;
import io.github.gatehouse.core.testsupport.TestPki.KeyFormat;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file watcher reloads when the files change, and keeps the certificates in use when the new files are bad. */
class TlsListenerWatchTest {
    @TempDir
    Path dir;

    @Test
    void aChangedFileIsReloadedAndABrokenOneIsNot() throws Exception {
        TestPki pki = TestPki.create("Watch CA");
        Path[] files = pki.issue("old.test").writePem(dir, "w", KeyFormat.PKCS8);
        TlsListener listener = new TlsListener(List.of(TlsMaterial.Source.pem(files[0], files[1])));
        ScheduledExecutorScheduler scheduler = new ScheduledExecutorScheduler("tls-watch-test", true);
        scheduler.start();
        listener.factory().start();
        try {
            assertThat(leaf(listener)).isEqualTo("CN=old.test");
            CountDownLatch reloaded = new CountDownLatch(1);
            listener.onReload(reloaded::countDown);
            listener.watch(scheduler, 50);
            pki.issue("new.test").writePem(dir, "w", KeyFormat.TRADITIONAL);
            assertThat(reloaded.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(leaf(listener)).isEqualTo("CN=new.test");
            assertThat(listener.reloads()).isEqualTo(1);
        } finally {
            listener.stop();
            listener.factory().stop();
            scheduler.stop();
        }
    }

    private static String leaf(TlsListener listener) throws Exception {
        return ((X509Certificate) listener.factory().getKeyStore().getCertificate("gatehouse-0")).getSubjectX500Principal().getName();
    }
}
