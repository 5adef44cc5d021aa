package io.github.gatehouse.cache.internal;

import java.util.regex.Pattern;

/**
 * Validity of a targeted cache-control field value (RFC 9213 §2.1): a structured-field Dictionary (RFC 8941 §3.2)
 * whose members are a key, optionally {@code =} a bare item (integer, decimal, string, token, byte sequence or
 * boolean), each with optional parameters. Keys are lower case. A field that is not one is ignored as a whole.
 *
 * <p><b>Threading.</b> Pure static functions; safe from any thread.
 */
public final class TargetedFields {
    private static final String KEY = "[a-z*][a-z0-9_.*-]*";
    private static final String BARE_ITEM = "(?:-?\\d{1,15}(?:\\.\\d{1,3})?|\"(?:[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\"\\\\])*\""
            + "|[A-Za-z*][!#$%&'*+.^_`|~:/A-Za-z0-9-]*|:[A-Za-z0-9+/=]*:|\\?[01])";
    private static final String PARAMS = "(?:;[ ]*" + KEY + "(?:=" + BARE_ITEM + ")?)*";
    private static final String MEMBER = KEY + "(?:=" + BARE_ITEM + ")?" + PARAMS;
    private static final Pattern DICTIONARY = Pattern.compile(MEMBER + "(?:[ \\t]*,[ \\t]*" + MEMBER + ")*");

    private TargetedFields() {
    }

    /** Whether {@code value} (all field lines joined with ", ") is a valid, non-empty Dictionary. */
    public static boolean isValidDictionary(String value) {
        String v = value.trim();
        return !v.isEmpty() && DICTIONARY.matcher(v).matches();
    }
}
