package io.github.gatehouse.filter.internal;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The shared executor for slow password checks: small, bounded, daemon threads named {@code gatehouse-auth-N}. */
public final class AuthExecutors {
    private static final ExecutorService SHARED = create(Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors())), 1024);

    private AuthExecutors() {
    }

    /** The process-wide default. */
    public static ExecutorService shared() {
        return SHARED;
    }

    /** A pool of {@code threads} daemon threads with a queue of {@code queue} tasks; rejects past that. */
    public static ExecutorService create(int threads, int queue) {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(queue), r -> {
                    Thread t = new Thread(r, "gatehouse-auth-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.AbortPolicy());
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }
}
