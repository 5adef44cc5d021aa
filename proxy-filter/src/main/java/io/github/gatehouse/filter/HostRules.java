package io.github.gatehouse.filter;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.Verdict;
import io.github.gatehouse.filter.internal.HostMatcher;
import io.github.gatehouse.filter.internal.HostNames;
import io.github.gatehouse.filter.internal.ListFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A host whitelist or blacklist: a {@link ProxyFilter} that answers {@code 403} to requests whose target host is
 * denied, naming the rule that decided.
 *
 * <p><b>Patterns.</b> {@code example.com} matches that name only (and its subdomains too when
 * {@link Builder#plainNamesCoverSubdomains} is set); {@code *.example.com} matches every subdomain but not
 * {@code example.com} itself; {@code .example.com} matches the domain and all its subdomains; IPv4 and IPv6
 * literals match that address. Names and request hosts are compared in canonical form — case-insensitive, without
 * trailing dot, IDN labels in punycode, IPv6 compressed, IPv4 from any {@code inet_aton} decimal form — so
 * {@code EXAMPLE.com.} cannot slip past a rule for {@code example.com}.
 *
 * <p><b>Modes.</b> Blacklist ({@link #deny}): requests pass unless a pattern matches. Whitelist ({@link #allow}):
 * requests are denied unless a pattern matches. {@code CONNECT} requests are judged by their host before any tunnel
 * opens. A lookup costs one hash probe per label of the host, whatever the list size (a million names load in
 * one to two seconds; see {@code HostRulesBenchmark}).
 *
 * <p><b>Files and reloading.</b> Files hold one pattern a line; {@code #} starts a comment. {@link #reload()}
 * (or {@link #reloadIfModified()}, for a scheduler) re-reads them and swaps the new list in atomically; requests in flight use the old or the new list, never a
 * mix. A file that fails to load leaves the previous list in force.
 *
 * <pre>{@code
 * ProxyServer.builder().forward()
 *     .filter(HostRules.deny("*.ads.example", ".tracker.example", "10.0.0.7"))
 *     .filter(HostRules.allowFile(Path.of("allowed-hosts.txt")))
 *     .build();
 * }</pre>
 *
 * <p><b>Threading.</b> Thread-safe; {@link #onRequest} never blocks. {@link #reload()} reads files on the calling
 * thread: call it from a scheduler or admin thread, never from a filter.
 */
public final class HostRules implements ProxyFilter {
    private static final Logger LOG = LoggerFactory.getLogger(HostRules.class);

    /** Whether matching hosts are denied (blacklist) or the only ones allowed (whitelist). */
    public enum Mode {
        /** Allow unless a rule matches. */
        BLACKLIST,
        /** Deny unless a rule matches. */
        WHITELIST
    }

    private final Mode mode;
    private final List<String> patterns;
    private final List<Path> files;
    private final boolean plainCoversSubdomains;
    private final String denyReason;
    private volatile HostMatcher matcher;
    private volatile List<FileTime> loadedVersions;

    private HostRules(Builder b) {
        this.mode = b.mode;
        this.patterns = List.copyOf(b.patterns);
        this.files = List.copyOf(b.files);
        this.plainCoversSubdomains = b.plainCoversSubdomains;
        this.denyReason = b.denyReason != null ? b.denyReason
                : mode == Mode.BLACKLIST ? "host {host} is denied by host rule {rule}"
                : "host {host} is not on the allow list";
        this.loadedVersions = versions();
        this.matcher = load();
    }

    /**
     * A blacklist of {@code patterns}.
     *
     * @throws IllegalArgumentException naming an invalid pattern
     */
    public static HostRules deny(String... patterns) {
        return builder(Mode.BLACKLIST).add(patterns).build();
    }

    /**
     * A whitelist of {@code patterns}.
     *
     * @throws IllegalArgumentException naming an invalid pattern
     */
    public static HostRules allow(String... patterns) {
        return builder(Mode.WHITELIST).add(patterns).build();
    }

    /**
     * A blacklist loaded from {@code file}.
     *
     * @throws UncheckedIOException if it cannot be read
     */
    public static HostRules denyFile(Path file) {
        return builder(Mode.BLACKLIST).addFile(file).build();
    }

    /**
     * A whitelist loaded from {@code file}.
     *
     * @throws UncheckedIOException if it cannot be read
     */
    public static HostRules allowFile(Path file) {
        return builder(Mode.WHITELIST).addFile(file).build();
    }

    /** A builder for rules in {@code mode}. */
    public static Builder builder(Mode mode) {
        return new Builder(requireNonNull(mode, "mode"));
    }

    @Override
    public Verdict onRequest(Exchange exchange) {
        String host = canonicalHost(exchange.request().host());
        String rule = host == null ? null : matcher.match(host);
        boolean denied = mode == Mode.BLACKLIST ? rule != null : rule == null;
        if (!denied) {
            return Verdict.proceed();
        }
        // The client learns the pattern, never which list file it came from: the file name goes to the log only.
        if (rule != null && LOG.isDebugEnabled()) {
            LOG.debug("{} host {} matched host rule {}", exchange.id(), exchange.request().host(), rule);
        }
        return Verdict.deny(denyReason.replace("{host}", exchange.request().host())
                .replace("{rule}", rule == null ? "(none)" : withoutSource(rule)));
    }

    /** {@code '*.ads.example'} of {@code '*.ads.example' (from list.txt)}. */
    private static String withoutSource(String rule) {
        int from = rule.indexOf(" (from ");
        return from < 0 ? rule : rule.substring(0, from);
    }

    /**
     * The rule of this list that {@code host} matches (whatever the mode), described as
     * {@code '*.ads.example' (from list.txt)}, or empty. Handy for composing with {@link AccessRules}.
     */
    public Optional<String> matchingRule(String host) {
        return Optional.ofNullable(match(host));
    }

    private String match(String host) {
        String h = canonicalHost(host);
        return h == null ? null : matcher.match(h);
    }

    /** Whether {@code host} may pass under this list's mode. */
    public boolean isAllowed(String host) {
        String rule = match(host);
        return mode == Mode.BLACKLIST ? rule == null : rule != null;
    }

    /** The mode. */
    public Mode mode() {
        return mode;
    }

    /** The number of distinct names in the current list. */
    public int size() {
        return matcher.size();
    }

    /**
     * Re-reads the files and swaps the new list in. On failure the current list stays in force.
     *
     * @return the number of distinct names now loaded
     * @throws UncheckedIOException if a file cannot be read
     * @throws IllegalArgumentException if a file holds an invalid pattern (the message names file and line)
     */
    public int reload() {
        List<FileTime> versions = versions();
        HostMatcher fresh = load();
        matcher = fresh;
        loadedVersions = versions;
        LOG.info("host rules reloaded: {} names from {}", fresh.size(), files);
        return fresh.size();
    }

    /**
     * Reloads when a file's modification time changed since the last load: cheap enough to call every few seconds
     * from a scheduler.
     *
     * @return whether the list was reloaded
     * @throws UncheckedIOException if a changed file cannot be read
     * @throws IllegalArgumentException if a changed file holds an invalid pattern
     */
    public boolean reloadIfModified() {
        if (versions().equals(loadedVersions)) {
            return false;
        }
        reload();
        return true;
    }

    private List<FileTime> versions() {
        List<FileTime> times = new ArrayList<>(files.size());
        for (Path f : files) {
            try {
                times.add(Files.getLastModifiedTime(f));
            } catch (IOException e) {
                times.add(FileTime.fromMillis(Long.MIN_VALUE));   // missing now: reloading will report it
            }
        }
        return times;
    }

    private HostMatcher load() {
        int expected = patterns.size();
        for (Path f : files) {
            expected += ListFiles.estimateEntries(f);
        }
        HostMatcher.Builder b = new HostMatcher.Builder(expected, plainCoversSubdomains);
        for (String p : patterns) {
            b.add(p);
        }
        for (Path f : files) {
            b.source(String.valueOf(f.getFileName()));
            try {
                ListFiles.forEachEntry(f, b::add);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read host list " + f, e);
            }
        }
        return b.build();
    }

    private static String canonicalHost(String host) {
        try {
            return HostNames.normalize(host);
        } catch (IllegalArgumentException e) {
            return null; // not a name we could hold: no rule matches it
        }
    }

    @Override
    public String toString() {
        return "HostRules{" + mode + ", " + matcher.size() + " names" + (files.isEmpty() ? "" : ", files " + files) + "}";
    }

    /** Configures {@link HostRules}; not thread-safe. */
    public static final class Builder {
        private final Mode mode;
        private final List<String> patterns = new ArrayList<>();
        private final List<Path> files = new ArrayList<>();
        private boolean plainCoversSubdomains;
        private String denyReason;

        private Builder(Mode mode) {
            this.mode = mode;
        }

        /**
         * Adds patterns.
         *
         * @throws IllegalArgumentException naming an invalid pattern
         */
        public Builder add(String... patterns) {
            requireNonNull(patterns, "patterns");
            HostMatcher.Builder check = new HostMatcher.Builder(patterns.length, false);
            for (String p : patterns) {
                check.add(requireNonNull(p, "pattern"));
                this.patterns.add(p);
            }
            return this;
        }

        /** Adds a list file, read at {@link #build()} and on every {@link HostRules#reload()}. */
        public Builder addFile(Path file) {
            files.add(requireNonNull(file, "file"));
            return this;
        }

        /** Makes plain names ({@code example.com}) cover their subdomains too, like {@code .example.com}. */
        public Builder plainNamesCoverSubdomains(boolean cover) {
            this.plainCoversSubdomains = cover;
            return this;
        }

        /**
         * The reason sent in the 403 body and written to the access log; {@code {host}} and {@code {rule}} are
         * replaced by the request host and the matching rule.
         */
        public Builder denyReason(String template) {
            requireNonNull(template, "template");
            if (template.isBlank()) {
                throw new IllegalArgumentException("denyReason: '" + template + "' (expected: a non-blank text)");
            }
            this.denyReason = template;
            return this;
        }

        /**
         * Builds the rules, reading the files now.
         *
         * @throws UncheckedIOException if a file cannot be read
         * @throws IllegalArgumentException if a file holds an invalid pattern
         */
        public HostRules build() {
            return new HostRules(this);
        }
    }
}
