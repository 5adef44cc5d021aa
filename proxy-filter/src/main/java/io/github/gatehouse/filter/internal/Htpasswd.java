package io.github.gatehouse.filter.internal;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads htpasswd files: {@code user:hash} a line, {@code #} comment lines and blank lines ignored. A line with an
 * unsupported or malformed hash is skipped with a WARN naming the file, line and user, never the hash. Stateless.
 */
public final class Htpasswd {
    private static final Logger LOG = LoggerFactory.getLogger(Htpasswd.class);

    private Htpasswd() {
    }

    /**
     * Reads {@code file}.
     *
     * @throws IOException if it cannot be read
     */
    public static Map<String, PasswordHash> read(Path file) throws IOException {
        Map<String, PasswordHash> users = new HashMap<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                String l = line.strip();
                if (l.isEmpty() || l.startsWith("#")) {
                    continue;
                }
                int colon = l.indexOf(':');
                if (colon <= 0) {
                    LOG.warn("{} line {}: no 'user:hash' pair; line skipped", file, number);
                    continue;
                }
                String user = l.substring(0, colon);
                String hash = l.substring(colon + 1);
                int extra = hash.indexOf(':');          // some tools append :comment fields
                if (extra >= 0) {
                    hash = hash.substring(0, extra);
                }
                try {
                    users.put(user, PasswordHash.parse(hash));
                } catch (IllegalArgumentException e) {
                    LOG.warn("{} line {}: user '{}' skipped: {}", file, number, user, e.getMessage());
                }
            }
        }
        return users;
    }
}
