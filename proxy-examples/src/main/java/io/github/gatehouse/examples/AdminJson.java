package io.github.gatehouse.examples;

/**
 * A small JSON writer for the admin API's answers (output only, so no library is needed): objects, arrays, strings
 * escaped per RFC 8259, numbers, booleans and null. Not thread-safe; one per answer.
 */
final class AdminJson {
    private final StringBuilder sb = new StringBuilder(1024);
    private boolean first = true;

    AdminJson beginObject() {
        comma();
        sb.append('{');
        first = true;
        return this;
    }

    AdminJson endObject() {
        sb.append('}');
        first = false;
        return this;
    }

    AdminJson beginArray() {
        comma();
        sb.append('[');
        first = true;
        return this;
    }

    AdminJson endArray() {
        sb.append(']');
        first = false;
        return this;
    }

    /** Starts a member of the current object; the value follows. */
    AdminJson name(String name) {
        comma();
        string(name);
        sb.append(':');
        first = true;
        return this;
    }

    AdminJson value(String s) {
        comma();
        if (s == null) {
            sb.append("null");
        } else {
            string(s);
        }
        first = false;
        return this;
    }

    AdminJson value(long n) {
        comma();
        sb.append(n);
        first = false;
        return this;
    }

    AdminJson value(double d) {
        comma();
        sb.append(Double.isFinite(d) ? Double.toString(d) : "null");
        first = false;
        return this;
    }

    AdminJson value(boolean b) {
        comma();
        sb.append(b);
        first = false;
        return this;
    }

    AdminJson field(String name, String v) {
        return name(name).value(v);
    }

    AdminJson field(String name, long v) {
        return name(name).value(v);
    }

    AdminJson field(String name, double v) {
        return name(name).value(v);
    }

    AdminJson field(String name, boolean v) {
        return name(name).value(v);
    }

    private void comma() {
        if (!first) {
            sb.append(',');
        }
        first = false;
    }

    private void string(String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }

    @Override
    public String toString() {
        return sb.toString();
    }
}
