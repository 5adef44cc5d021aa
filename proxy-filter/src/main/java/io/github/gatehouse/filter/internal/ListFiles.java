package io.github.gatehouse.filter.internal;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Reads list files: one entry a line, {@code #} starts a comment, blank lines ignored. Stateless. */
public final class ListFiles {
    private ListFiles() {
    }

    /**
     * Calls {@code entry} with each entry of {@code file}, trimmed.
     *
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if {@code entry} rejects a line; the message names the file and line
     */
    public static void forEachEntry(Path file, Consumer<String> entry) throws IOException {
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                int hash = line.indexOf('#');
                String e = (hash >= 0 ? line.substring(0, hash) : line).trim();
                if (e.isEmpty()) {
                    continue;
                }
                try {
                    entry.accept(e);
                } catch (IllegalArgumentException ex) {
                    throw new IllegalArgumentException(file + " line " + number + ": " + ex.getMessage(), ex);
                }
            }
        }
    }

    /** A rough entry count for sizing, from the file size. */
    public static int estimateEntries(Path file) {
        try {
            return (int) Math.min(1 << 26, Files.size(file) / 16);
        } catch (IOException e) {
            return 16;
        }
    }
}
