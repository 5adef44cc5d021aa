package io.github.gatehouse.filter.internal;

import java.nio.charset.Charset;
import java.nio.charset.IllegalCharsetNameException;
import java.nio.charset.StandardCharsets;
import java.nio.charset.UnsupportedCharsetException;
import java.util.Locale;

/** Reads {@code Content-Type} values: whether a body is text, and its charset. Stateless. */
public final class ContentTypes {
    private ContentTypes() {
    }

    /** The media type in lower case without parameters ({@code text/html}), or empty for {@code null}. */
    public static String mediaType(String contentType) {
        if (contentType == null) {
            return "";
        }
        int semi = contentType.indexOf(';');
        return (semi >= 0 ? contentType.substring(0, semi) : contentType).trim().toLowerCase(Locale.ROOT);
    }

    /** Whether {@code mediaType} is text: {@code text/*}, JSON, XML, JavaScript (including {@code +json/+xml}). */
    public static boolean isText(String mediaType) {
        return mediaType.startsWith("text/")
                || mediaType.equals("application/json") || mediaType.endsWith("+json")
                || mediaType.equals("application/xml") || mediaType.endsWith("+xml")
                || mediaType.equals("application/javascript") || mediaType.equals("application/x-javascript")
                || mediaType.equals("application/ecmascript") || mediaType.equals("application/x-www-form-urlencoded")
                || mediaType.equals("application/ld+json") || mediaType.equals("application/ndjson");
    }

    /** The {@code charset} parameter of {@code contentType}, or {@code fallback} when absent or unknown. */
    public static Charset charset(String contentType, Charset fallback) {
        if (contentType == null) {
            return fallback;
        }
        for (String param : contentType.split(";")) {
            String p = param.trim();
            int eq = p.indexOf('=');
            if (eq > 0 && p.substring(0, eq).trim().equalsIgnoreCase("charset")) {
                String name = p.substring(eq + 1).trim();
                if (name.length() >= 2 && name.startsWith("\"") && name.endsWith("\"")) {
                    name = name.substring(1, name.length() - 1);
                }
                try {
                    return Charset.forName(name);
                } catch (IllegalCharsetNameException | UnsupportedCharsetException e) {
                    return fallback;
                }
            }
        }
        return fallback;
    }

    /** UTF-8, the default when a text type names no charset. */
    public static Charset defaultCharset() {
        return StandardCharsets.UTF_8;
    }
}
