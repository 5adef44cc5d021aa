package io.github.gatehouse.examples;

import io.github.gatehouse.core.ProxyServer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the launcher's {@code --config} file again and swaps the configuration it describes into the running proxy
 * ({@link ProxyServer#reconfigure}), atomically: the file and the command line are parsed, checked and built
 * completely first; a file with an error changes nothing and logs one WARN naming the line and the key.
 *
 * <p>Triggers: {@link #reload()} (for an admin endpoint), a signal ({@link #onSignal}, SIGHUP in the launcher), and
 * changes of the file ({@link #watchFile}: a {@code WatchService} on its directory; a burst of events, as editors
 * write, makes one reload once 200 ms pass without another event; a write that leaves the content as it was makes
 * none).
 *
 * <p><b>Threading.</b> Thread-safe: reloads run one at a time, signals and file events hand theirs to one thread
 * ({@code gatehouse-reload}).
 */
public final class ConfigReloader implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigReloader.class);

    private final Path file;
    private final String[] args;
    private final ProxyServer proxy;
    private final Gatehouse.Resources resources;
    private final PrintStream out;
    private final ExecutorService reloads = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "gatehouse-reload");
        t.setDaemon(true);
        return t;
    });
    private volatile WatchService watcher;
    private volatile byte[] lastContent;
    private CompletableFuture<Boolean> next = new CompletableFuture<>();

    ConfigReloader(Path file, String[] args, ProxyServer proxy, Gatehouse.Resources resources, PrintStream out) {
        this.file = file;
        this.args = args.clone();
        this.proxy = proxy;
        this.resources = resources;
        this.out = out;
        this.lastContent = read();
    }

    /** The configuration file. */
    public Path file() {
        return file;
    }

    /**
     * Reads the file again now and swaps in its configuration, with the command-line flags over it as at start.
     * Returns whether it was swapped in; false when the file has an error, or the change needs a restart (a new port,
     * say), and then the configuration in force stays and the reason is logged (WARN).
     */
    public synchronized boolean reload() {
        boolean ok = doReload();
        CompletableFuture<Boolean> done = next;
        next = new CompletableFuture<>();
        done.complete(ok);
        return ok;
    }

    /** Completes with the outcome of the next reload, whatever triggers it (for tests and admin tools). */
    public synchronized CompletableFuture<Boolean> nextReload() {
        return next;
    }

    private boolean doReload() {
        byte[] content = read();
        LauncherOptions o;
        try {
            o = ConfigFile.load(file, args);
        } catch (LauncherOptions.UsageException e) {
            LOG.warn("configuration not reloaded, the one in force stays: {}", e.getMessage());
            return false;
        }
        Gatehouse.Resources trial = resources.copy();
        try {
            proxy.reconfigure(Gatehouse.configure(o, out, trial));
        } catch (LauncherOptions.UsageException | RuntimeException e) {
            resources.discard(trial);
            LOG.warn("configuration {} not reloaded, the one in force stays: {}", file, e.getMessage());
            return false;
        }
        resources.commit(trial);
        lastContent = content;
        LOG.info("configuration {} reloaded", file);
        return true;
    }

    /** Reloads on the named signal ({@code "HUP"}) instead of letting the JVM exit on it. */
    @SuppressWarnings("restriction")
    public void onSignal(String name) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> {
                LOG.info("SIG{}: reloading {}", name, file);
                reloads.execute(this::reload);
            });
        } catch (IllegalArgumentException e) {
            LOG.warn("cannot handle SIG{} here ({}): reload through the file or the API", name, e.getMessage());
        }
    }

    /** Reloads when the file changes, from now until {@link #close()}. */
    public void watchFile() {
        Path dir = file.toAbsolutePath().getParent();
        try {
            WatchService w = dir.getFileSystem().newWatchService();
            dir.register(w, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
            watcher = w;
            Thread t = new Thread(() -> watch(w), "gatehouse-config-watch");
            t.setDaemon(true);
            t.start();
        } catch (IOException e) {
            LOG.warn("cannot watch {} for changes ({}): reload with SIGHUP", file, e.getMessage());
        }
    }

    private void watch(WatchService w) {
        Path name = file.getFileName();
        try {
            while (true) {
                WatchKey key = w.take();
                boolean ours = events(key, name);
                // an editor's save is a burst of events (truncate, write, rename): reload once it is over
                while (ours) {
                    WatchKey more = w.poll(200, TimeUnit.MILLISECONDS);
                    if (more == null) {
                        break;
                    }
                    events(more, name);
                }
                if (ours) {
                    reloads.execute(() -> {
                        if (!Arrays.equals(read(), lastContent)) {
                            reload();
                        }
                    });
                }
            }
        } catch (ClosedWatchServiceException | InterruptedException e) {
            // closed
        }
    }

    private static boolean events(WatchKey key, Path name) {
        boolean ours = false;
        for (WatchEvent<?> event : key.pollEvents()) {
            if (event.kind() == StandardWatchEventKinds.OVERFLOW || name.equals(event.context())) {
                ours = true;
            }
        }
        key.reset();
        return ours;
    }

    private byte[] read() {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            return new byte[0];
        }
    }

    /** Stops watching the file; the proxy is not closed. */
    @Override
    public void close() {
        WatchService w = watcher;
        if (w != null) {
            try {
                w.close();
            } catch (IOException e) {
                LOG.debug("closing the watch service failed", e);
            }
        }
        reloads.shutdown();
    }
}
