package io.github.gatehouse.filter;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.BodyFilter;
import io.github.gatehouse.core.DataSize;
import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.ResponseHead;
import io.github.gatehouse.core.Verdict;
import io.github.gatehouse.filter.internal.AhoCorasick;
import io.github.gatehouse.filter.internal.ContentTypes;
import io.github.gatehouse.filter.internal.KeywordBodyFilter;
import io.github.gatehouse.filter.internal.ListFiles;
import io.github.gatehouse.filter.internal.StreamDecoder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A content filter: scans text response bodies for words and phrases and blocks the page or redacts the words;
 * optionally denies requests whose URL contains a keyword.
 *
 * <p><b>What is scanned.</b> Bodies whose {@code Content-Type} is text ({@code text/*}, JSON, XML, JavaScript,
 * including {@code +json} and {@code +xml} types), decoded in the charset the {@code Content-Type} names (UTF-8
 * when it names none); bodies without a {@code Content-Type} too, unless {@link Builder#scanUntypedBodies} is off.
 * Matching is case-insensitive, with one Aho–Corasick automaton for all keywords, and finds keywords split across
 * chunks. Tunnelled ({@code CONNECT}) bytes are never seen; their host is checked against URL keywords.
 *
 * <p><b>Encodings.</b> {@code gzip} and {@code deflate} bodies are decoded into a copy and scanned. A page that
 * passes a blocking filter reaches the client as the origin sent it: the same encoded bytes, {@code Content-Length},
 * {@code Content-Encoding} and {@code ETag}. A redacting filter changes the body, and sends it on <em>decoded</em>
 * ({@code Content-Encoding} removed, a strong {@code ETag} made weak): re-compressing would cost CPU on every
 * exchange for little gain on the proxy-to-client hop. A body may decode to at most
 * {@link Builder#maxDecodedSize} (256 MiB by default) and one network chunk to at most 8 MiB; past that the
 * response is stopped with 502 (decompression bombs). Other encodings ({@code br}, {@code zstd}): by default the
 * filter rewrites each request's {@code Accept-Encoding} to the codings it can decode, and a response that still
 * comes in another coding is stopped with 502; with {@link UndecodableEncoding#PASS_UNSCANNED} it is sent on
 * unscanned. Requests lose {@code Range} and {@code If-Range}, so that the filter always sees whole bodies.
 *
 * <p><b>Actions.</b> {@link Action#BLOCK}: the filter holds up to {@link Builder#holdUpTo} bytes (64 KiB by
 * default) before sending anything, so a keyword in that prefix becomes a clean {@code 403} page naming it; a
 * keyword further in aborts the transfer (the client sees a truncated, never a complete, response).
 * {@link Action#REDACT}: each character of a match becomes {@code *}; the response is otherwise unchanged.
 *
 * <p><b>Memory.</b> Per exchange: the hold prefix (block) or the longest keyword (redact), plus what one chunk
 * decodes to; never the whole body.
 *
 * <pre>{@code
 * ProxyServer.builder().forward()
 *     .filter(KeywordFilter.blockPagesContaining("casino", "online poker"))
 *     .filter(KeywordFilter.builder().redact("password=").urlKeywords("torrent").build())
 *     .build();
 * }</pre>
 *
 * <p><b>Threading.</b> Thread-safe and immutable; per-exchange state lives in the {@link BodyFilter} it returns
 * and in {@link Exchange#attributes()}. Never blocks.
 */
public final class KeywordFilter implements ProxyFilter {
    private static final Logger LOG = LoggerFactory.getLogger(KeywordFilter.class);
    private static final long MAX_DECODED_PER_CHUNK = 8L * 1024 * 1024;

    /** What a keyword found in a body does. */
    public enum Action {
        /** Answer 403 instead of the page (or abort it, past the hold prefix). */
        BLOCK,
        /** Replace each character of the keyword by {@code *}. */
        REDACT
    }

    /** What to do about bodies in a content coding the filter cannot decode (anything but gzip and deflate). */
    public enum UndecodableEncoding {
        /** Ask upstream for codings the filter decodes, and stop (502) a response that still uses another. */
        ASK_UPSTREAM_FOR_SUPPORTED,
        /** Let such bodies pass unscanned. */
        PASS_UNSCANNED
    }

    private record Plan(Charset charset, String encoding, String refusal) {
    }

    private final AhoCorasick bodyMatcher;
    private final AhoCorasick urlMatcher;
    private final Action action;
    private final int holdLimit;
    private final long maxDecoded;
    private final UndecodableEncoding undecodable;
    private final boolean scanUntyped;
    private final String blockReason;
    private final String urlBlockReason;
    private final String planKey = KeywordFilter.class.getName() + ".plan@" + Integer.toHexString(System.identityHashCode(this));

    private KeywordFilter(Builder b) {
        this.bodyMatcher = b.bodyKeywords.isEmpty() ? null : AhoCorasick.of(b.bodyKeywords);
        this.urlMatcher = b.urlKeywords.isEmpty() ? null : AhoCorasick.of(b.urlKeywords);
        this.action = b.action;
        this.holdLimit = b.holdUpTo.toBytesCapped();
        this.maxDecoded = b.maxDecoded.toBytes();
        this.undecodable = b.undecodable;
        this.scanUntyped = b.scanUntyped;
        this.blockReason = b.blockReason;
        this.urlBlockReason = b.urlBlockReason;
    }

    /** Blocks (403) text pages containing any of {@code words}, case-insensitively. */
    public static KeywordFilter blockPagesContaining(String... words) {
        return builder().action(Action.BLOCK).bodyKeywords(words).build();
    }

    /** Redacts {@code words} in text bodies, case-insensitively (each character becomes {@code *}). */
    public static KeywordFilter redacting(String... words) {
        return builder().action(Action.REDACT).bodyKeywords(words).build();
    }

    /** Denies (403) requests whose URL (host, decoded path or query) contains any of {@code words}. */
    public static KeywordFilter blockUrlsContaining(String... words) {
        return builder().urlKeywords(words).build();
    }

    /** A builder: no keywords, action {@link Action#BLOCK}, defaults as documented on the class. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Verdict onRequest(Exchange exchange) {
        if (urlMatcher != null) {
            String found = urlMatcher.findIn(urlText(exchange));
            if (found != null) {
                return Verdict.deny(urlBlockReason.replace("{keyword}", found));
            }
        }
        if (bodyMatcher != null && exchange.mode() != Exchange.Mode.TUNNEL) {
            HttpHeaders headers = exchange.request().headers();
            headers.remove("Range");
            headers.remove("If-Range");
            if (undecodable == UndecodableEncoding.ASK_UPSTREAM_FOR_SUPPORTED) {
                restrictAcceptEncoding(headers);
            }
        }
        return Verdict.proceed();
    }

    @Override
    public void onResponse(Exchange exchange, ResponseHead response) {
        if (bodyMatcher == null) {
            return;
        }
        HttpHeaders headers = response.headers();
        String contentType = headers.get("Content-Type");
        String media = ContentTypes.mediaType(contentType);
        if (media.isEmpty() ? !scanUntyped : !ContentTypes.isText(media)) {
            return;
        }
        List<String> codings = new ArrayList<>();
        for (String c : headers.getTokens("Content-Encoding")) {
            if (!c.equalsIgnoreCase("identity")) {
                codings.add(c.toLowerCase(Locale.ROOT));
            }
        }
        Charset charset = ContentTypes.charset(contentType, ContentTypes.defaultCharset());
        String encoding = null;
        if (!codings.isEmpty()) {
            boolean decodable = codings.size() == 1 && StreamDecoder.supports(codings.get(0)) && response.status() != 206;
            if (!decodable) {
                if (undecodable == UndecodableEncoding.PASS_UNSCANNED) {
                    if (LOG.isDebugEnabled()) {
                        LOG.debug("{} body in {} passes unscanned", exchange.id(), codings);
                    }
                    return;
                }
                exchange.attributes().put(planKey, new Plan(charset, null,
                        "content filter cannot scan a body encoded with " + String.join(", ", codings)));
                return;
            }
            encoding = codings.get(0);
            if (action == Action.REDACT) {
                // redacted text goes out decoded: re-compressing would cost CPU on every exchange
                headers.remove("Content-Encoding");
                weakenEtag(headers);
            }
        } else if (action == Action.REDACT) {
            weakenEtag(headers);
        }
        exchange.attributes().put(planKey, new Plan(charset, encoding, null));
    }

    @Override
    public Optional<BodyFilter> responseBody(Exchange exchange, ResponseHead response) {
        Object p = exchange.attributes().remove(planKey);
        if (!(p instanceof Plan)) {
            return Optional.empty();
        }
        Plan plan = (Plan) p;
        if (plan.refusal != null) {
            String refusal = plan.refusal;
            return Optional.of((chunk, last, control) -> {
                control.block(502, refusal);
                return chunk;
            });
        }
        StreamDecoder decoder = plan.encoding == null ? null : new StreamDecoder(plan.encoding, MAX_DECODED_PER_CHUNK, maxDecoded);
        return Optional.of(new KeywordBodyFilter(exchange.id(), bodyMatcher,
                action == Action.BLOCK ? KeywordBodyFilter.Action.BLOCK : KeywordBodyFilter.Action.REDACT,
                plan.charset, holdLimit, 403, blockReason, decoder));
    }

    private static void restrictAcceptEncoding(HttpHeaders headers) {
        List<String> kept = new ArrayList<>();
        for (String token : headers.getTokens("Accept-Encoding")) {
            int semi = token.indexOf(';');
            String coding = (semi >= 0 ? token.substring(0, semi) : token).trim();
            if (StreamDecoder.supports(coding) || coding.equalsIgnoreCase("identity")) {
                kept.add(token);
            }
        }
        headers.set("Accept-Encoding", kept.isEmpty() ? "identity" : String.join(", ", kept));
    }

    private static void weakenEtag(HttpHeaders headers) {
        String etag = headers.get("ETag");
        if (etag != null && !etag.startsWith("W/")) {
            headers.set("ETag", "W/" + etag);
        }
    }

    /** Host, path and query, percent-decoded (UTF-8, {@code +} as space in the query). */
    private static String urlText(Exchange exchange) {
        String path = exchange.request().path();
        String query = exchange.request().query().orElse(null);
        return exchange.request().host() + " " + percentDecode(path == null ? "" : path, false)
                + (query == null ? "" : " " + percentDecode(query, true));
    }

    private static String percentDecode(String s, boolean plusIsSpace) {
        if (s.indexOf('%') < 0 && (!plusIsSpace || s.indexOf('+') < 0)) {
            return s;
        }
        if (plusIsSpace) {
            try {
                return URLDecoder.decode(s, StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                // malformed escapes: fall through to the lenient decoder
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%' && i + 2 < s.length() && Character.digit(s.charAt(i + 1), 16) >= 0
                    && Character.digit(s.charAt(i + 2), 16) >= 0) {
                out.write(Character.digit(s.charAt(i + 1), 16) * 16 + Character.digit(s.charAt(i + 2), 16));
                i += 2;
            } else if (c == '+' && plusIsSpace) {
                out.write(' ');
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "KeywordFilter{" + action + ", " + (bodyMatcher == null ? 0 : bodyMatcher.keywords().size()) + " body keywords, "
                + (urlMatcher == null ? 0 : urlMatcher.keywords().size()) + " URL keywords}";
    }

    /** Configures {@link KeywordFilter}; not thread-safe. */
    public static final class Builder {
        private final List<String> bodyKeywords = new ArrayList<>();
        private final List<String> urlKeywords = new ArrayList<>();
        private Action action = Action.BLOCK;
        private DataSize holdUpTo = DataSize.kibibytes(64);
        private DataSize maxDecoded = DataSize.mebibytes(256);
        private UndecodableEncoding undecodable = UndecodableEncoding.ASK_UPSTREAM_FOR_SUPPORTED;
        private boolean scanUntyped = true;
        private String blockReason = "page blocked by content filter: it contains '{keyword}'";
        private String urlBlockReason = "URL blocked by content filter: it contains '{keyword}'";

        private Builder() {
        }

        /**
         * Adds words or phrases to look for in bodies.
         *
         * @throws IllegalArgumentException for a blank one
         */
        public Builder bodyKeywords(String... words) {
            addWords(bodyKeywords, words, "bodyKeywords");
            return this;
        }

        /**
         * Adds the body keywords listed in {@code file}, one a line ({@code #} starts a comment), read now.
         *
         * @throws UncheckedIOException if the file cannot be read
         */
        public Builder bodyKeywordsFrom(Path file) {
            return bodyKeywords(readList(file));
        }

        /**
         * Adds the URL keywords listed in {@code file}, one a line ({@code #} starts a comment), read now.
         *
         * @throws UncheckedIOException if the file cannot be read
         */
        public Builder urlKeywordsFrom(Path file) {
            return urlKeywords(readList(file));
        }

        private static String[] readList(Path file) {
            requireNonNull(file, "file");
            List<String> words = new ArrayList<>();
            try {
                ListFiles.forEachEntry(file, words::add);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read keyword list " + file, e);
            }
            return words.toArray(new String[0]);
        }

        /** Adds words or phrases that deny a request when its URL contains them. */
        public Builder urlKeywords(String... words) {
            addWords(urlKeywords, words, "urlKeywords");
            return this;
        }

        /** What a body keyword does; default {@link Action#BLOCK}. */
        public Builder action(Action action) {
            this.action = requireNonNull(action, "action");
            return this;
        }

        /** Shorthand for {@code action(REDACT).bodyKeywords(words)}. */
        public Builder redact(String... words) {
            return action(Action.REDACT).bodyKeywords(words);
        }

        /** Shorthand for {@code action(BLOCK).bodyKeywords(words)}. */
        public Builder block(String... words) {
            return action(Action.BLOCK).bodyKeywords(words);
        }

        /** How much of a body {@link Action#BLOCK} may hold before sending; 0 sends at once. Default 64 KiB. */
        public Builder holdUpTo(DataSize size) {
            requireNonNull(size, "size");
            if (size.toBytes() > 64L * 1024 * 1024) {
                throw new IllegalArgumentException("holdUpTo: " + size + " (expected: <= 64MiB)");
            }
            this.holdUpTo = size;
            return this;
        }

        /** The most a gzip/deflate body may decode to before it is stopped with 502. Default 256 MiB. */
        public Builder maxDecodedSize(DataSize size) {
            requireNonNull(size, "size");
            if (size.toBytes() < 1024) {
                throw new IllegalArgumentException("maxDecodedSize: " + size + " (expected: >= 1KiB)");
            }
            this.maxDecoded = size;
            return this;
        }

        /** What to do about codings other than gzip and deflate; default ask upstream for supported ones. */
        public Builder undecodableEncodings(UndecodableEncoding policy) {
            this.undecodable = requireNonNull(policy, "policy");
            return this;
        }

        /** Whether bodies without {@code Content-Type} are scanned (as UTF-8 text); default yes. */
        public Builder scanUntypedBodies(boolean scan) {
            this.scanUntyped = scan;
            return this;
        }

        /** The 403 reason for blocked pages; {@code {keyword}} is replaced by the keyword found. */
        public Builder blockReason(String template) {
            this.blockReason = checkTemplate("blockReason", template);
            return this;
        }

        /** The 403 reason for blocked URLs; {@code {keyword}} is replaced by the keyword found. */
        public Builder urlBlockReason(String template) {
            this.urlBlockReason = checkTemplate("urlBlockReason", template);
            return this;
        }

        /**
         * Builds the filter.
         *
         * @throws IllegalStateException if no keyword was given
         */
        public KeywordFilter build() {
            if (bodyKeywords.isEmpty() && urlKeywords.isEmpty()) {
                throw new IllegalStateException("no keywords: give bodyKeywords(...) or urlKeywords(...)");
            }
            return new KeywordFilter(this);
        }

        private static void addWords(List<String> into, String[] words, String what) {
            requireNonNull(words, what);
            for (String w : words) {
                if (w == null || w.isBlank()) {
                    throw new IllegalArgumentException(what + ": '" + w + "' (expected: a non-blank word or phrase)");
                }
                if (w.length() > 1024) {
                    throw new IllegalArgumentException(what + ": a keyword of " + w.length() + " characters (expected: <= 1024)");
                }
                into.add(w);
            }
        }

        private static String checkTemplate(String what, String template) {
            requireNonNull(template, what);
            if (template.isBlank()) {
                throw new IllegalArgumentException(what + ": '" + template + "' (expected: a non-blank text)");
            }
            return template;
        }
    }
}
