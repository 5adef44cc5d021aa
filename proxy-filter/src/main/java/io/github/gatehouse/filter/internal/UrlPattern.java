package io.github.gatehouse.filter.internal;

import io.github.gatehouse.core.RequestHead;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A URL rule: {@code scheme://host[:port][/path-glob]} where the scheme may be {@code *}, the host is a host
 * pattern ({@code *}, {@code example.com}, {@code *.example.com}, {@code .example.com}), the port a number or
 * {@code *} (absent: any port) and the path a glob ({@code *} within one segment, {@code **} across segments,
 * {@code ?} one character; absent: any path). Paths are compared after {@link #normalizePath normalisation}, so
 * {@code /a/../admin} and {@code /%61dmin} meet a rule for {@code /admin}. Immutable, thread-safe.
 */
public final class UrlPattern {
    private final String text;
    private final String scheme;
    private final HostMatcher host;
    private final int port;
    private final Pattern path;

    private UrlPattern(String text, String scheme, HostMatcher host, int port, Pattern path) {
        this.text = text;
        this.scheme = scheme;
        this.host = host;
        this.port = port;
        this.path = path;
    }

    /**
     * Parses a URL glob.
     *
     * @throws IllegalArgumentException naming {@code glob} if it is malformed
     */
    public static UrlPattern parse(String glob) {
        String bad = "url pattern: '" + glob + "' (expected: scheme://host[:port][/path-glob], such as"
                + " https://*.example.com/admin/**)";
        int sep = glob.indexOf("://");
        if (sep <= 0) {
            throw new IllegalArgumentException(bad);
        }
        String scheme = glob.substring(0, sep).toLowerCase(Locale.ROOT);
        if (!scheme.equals("*") && !scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException(bad);
        }
        String rest = glob.substring(sep + 3);
        int slash = rest.indexOf('/');
        String authority = slash >= 0 ? rest.substring(0, slash) : rest;
        String pathGlob = slash >= 0 ? rest.substring(slash) : null;
        int port = -1;
        String hostPart = authority;
        int colon = authority.lastIndexOf(':');
        if (colon >= 0 && authority.indexOf(']') < colon) {
            String p = authority.substring(colon + 1);
            hostPart = authority.substring(0, colon);
            if (!p.equals("*")) {
                try {
                    port = Integer.parseInt(p);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(bad, e);
                }
                if (port < 1 || port > 65535) {
                    throw new IllegalArgumentException(bad);
                }
            }
        }
        if (hostPart.isEmpty()) {
            throw new IllegalArgumentException(bad);
        }
        HostMatcher host = null;
        if (!hostPart.equals("*")) {
            try {
                host = new HostMatcher.Builder(1, false).add(hostPart).build();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(bad, e);
            }
        }
        Pattern path = pathGlob == null || pathGlob.equals("/**") ? null : Pattern.compile(globToRegex(pathGlob));
        return new UrlPattern(glob, scheme, host, port, path);
    }

    /** Whether {@code request} matches. */
    public boolean matches(RequestHead request) {
        if (!scheme.equals("*") && !scheme.equals(request.scheme())) {
            return false;
        }
        if (port >= 0 && port != request.port()) {
            return false;
        }
        if (host != null) {
            String h;
            try {
                h = HostNames.normalize(request.host());
            } catch (IllegalArgumentException e) {
                return false;
            }
            if (host.match(h) == null) {
                return false;
            }
        }
        return path == null || path.matcher(normalizePath(request.path())).matches();
    }

    /** Turns a path glob into a regex: {@code **} any, {@code *} within a segment, {@code ?} one character. */
    public static String globToRegex(String glob) {
        StringBuilder re = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            if (c == '*') {
                if (i + 1 < glob.length() && glob.charAt(i + 1) == '*') {
                    re.append(".*");
                    i++;
                } else {
                    re.append("[^/]*");
                }
            } else if (c == '?') {
                re.append("[^/]");
            } else {
                re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return re.toString();
    }

    /**
     * Normalises a raw path for matching: percent-encoded unreserved characters decoded, other escapes in upper
     * case, {@code .} and {@code ..} segments resolved, runs of {@code /} collapsed. Empty becomes {@code /}.
     */
    public static String normalizePath(String raw) {
        if (raw == null || raw.isEmpty()) {
            return "/";
        }
        StringBuilder sb = new StringBuilder(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%' && i + 2 < raw.length() && isHex(raw.charAt(i + 1)) && isHex(raw.charAt(i + 2))) {
                int v = Integer.parseInt(raw.substring(i + 1, i + 3), 16);
                char d = (char) v;
                if ((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9') || d == '-' || d == '.'
                        || d == '_' || d == '~') {
                    sb.append(d);
                } else {
                    sb.append('%').append(Character.toUpperCase(raw.charAt(i + 1)))
                            .append(Character.toUpperCase(raw.charAt(i + 2)));
                }
                i += 2;
            } else {
                sb.append(c);
            }
        }
        String[] segments = sb.toString().split("/", -1);
        java.util.ArrayDeque<String> out = new java.util.ArrayDeque<>();
        for (int i = 0; i < segments.length; i++) {
            String s = segments[i];
            boolean lastSegment = i == segments.length - 1;
            if (s.equals(".")) {
                if (lastSegment) {
                    out.addLast("");
                }
            } else if (s.equals("..")) {
                out.pollLast();
                if (lastSegment) {
                    out.addLast("");
                }
            } else if (!s.isEmpty() || lastSegment) {
                out.addLast(s);
            }
        }
        StringBuilder path = new StringBuilder();
        for (String s : out) {
            path.append('/').append(s);
        }
        return path.length() == 0 ? "/" : path.toString();
    }

    private static boolean isHex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    @Override
    public String toString() {
        return text;
    }
}
