package io.github.gatehouse.cache;

/**
 * How {@link SharedCache} purges: remove entries, or only mark them stale.
 *
 * <p>A {@link #SOFT} purge keeps the entry but makes it stale at once: the next request revalidates it with the
 * origin, and it may still be served under {@code stale-while-revalidate} or {@code stale-if-error} (the Fastly
 * "soft purge"). A {@link #HARD} purge removes it.
 */
public enum PurgeMode {
    /** Remove the entries. */
    HARD,
    /** Mark the entries stale; they are revalidated before being served fresh again. */
    SOFT
}
