package io.github.gatehouse.filter.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An Aho–Corasick automaton over case-folded characters: finds every occurrence of any of a set of keywords in one
 * pass over a text, in time linear in the text, whatever the number of keywords. The text may arrive in pieces:
 * the caller keeps the state (an {@code int}) between them, so matches across chunk boundaries are found.
 *
 * <p>Case folding is per character ({@code toLowerCase(toUpperCase(c))}), so {@code Straße}/{@code STRASSE}
 * differ but {@code É}/{@code é} and ASCII letters match in any case. Immutable and thread-safe; the per-stream
 * state is the caller's.
 */
public final class AhoCorasick {
    private final String[] keywords;
    private final char[][] edgeChars;   // per node, sorted
    private final int[][] edgeTargets;  // per node
    private final int[] fail;
    private final int[] depth;
    private final int[] matchLength;    // longest keyword ending at this node (via fail links), 0 if none
    private final int[] matchKeyword;   // index of that keyword
    private final int[] asciiNext;      // full transition table for the root's ASCII children, speeds the common case
    private final int maxLength;

    private AhoCorasick(String[] keywords, char[][] edgeChars, int[][] edgeTargets, int[] fail, int[] depth,
            int[] matchLength, int[] matchKeyword, int maxLength) {
        this.keywords = keywords;
        this.edgeChars = edgeChars;
        this.edgeTargets = edgeTargets;
        this.fail = fail;
        this.depth = depth;
        this.matchLength = matchLength;
        this.matchKeyword = matchKeyword;
        this.maxLength = maxLength;
        this.asciiNext = new int[128];
        for (int c = 0; c < 128; c++) {
            asciiNext[c] = child(0, (char) c);
        }
    }

    /** Folds one character the way keywords and texts are compared. */
    public static char fold(char c) {
        return Character.toLowerCase(Character.toUpperCase(c));
    }

    /**
     * Builds the automaton.
     *
     * @throws IllegalArgumentException if there is no keyword, or one is blank (the message names it)
     */
    public static AhoCorasick of(List<String> words) {
        if (words.isEmpty()) {
            throw new IllegalArgumentException("keywords: none (expected: at least one)");
        }
        List<Map<Character, Integer>> children = new ArrayList<>();
        List<Integer> depths = new ArrayList<>();
        List<Integer> terminal = new ArrayList<>();
        children.add(new TreeMap<>());
        depths.add(0);
        terminal.add(-1);
        String[] kws = words.toArray(new String[0]);
        int max = 0;
        for (int k = 0; k < kws.length; k++) {
            String w = kws[k];
            if (w == null || w.isBlank()) {
                throw new IllegalArgumentException("keyword: '" + w + "' (expected: a non-blank word or phrase)");
            }
            max = Math.max(max, w.length());
            int node = 0;
            for (int i = 0; i < w.length(); i++) {
                char c = fold(w.charAt(i));
                Integer next = children.get(node).get(c);
                if (next == null) {
                    next = children.size();
                    children.add(new TreeMap<>());
                    depths.add(depths.get(node) + 1);
                    terminal.add(-1);
                    children.get(node).put(c, next);
                }
                node = next;
            }
            if (terminal.get(node) < 0) {
                terminal.set(node, k);
            }
        }
        int n = children.size();
        char[][] edgeChars = new char[n][];
        int[][] edgeTargets = new int[n][];
        int[] depth = new int[n];
        for (int i = 0; i < n; i++) {
            Map<Character, Integer> m = children.get(i);
            edgeChars[i] = new char[m.size()];
            edgeTargets[i] = new int[m.size()];
            int j = 0;
            for (Map.Entry<Character, Integer> e : m.entrySet()) {
                edgeChars[i][j] = e.getKey();
                edgeTargets[i][j] = e.getValue();
                j++;
            }
            depth[i] = depths.get(i);
        }
        int[] fail = new int[n];
        int[] matchLength = new int[n];
        int[] matchKeyword = new int[n];
        Arrays.fill(matchKeyword, -1);
        ArrayDeque<Integer> queue = new ArrayDeque<>();
        queue.add(0);
        while (!queue.isEmpty()) {
            int node = queue.poll();
            if (terminal.get(node) >= 0) {
                matchLength[node] = depth[node];
                matchKeyword[node] = terminal.get(node);
            } else if (node != 0 && matchLength[fail[node]] > 0) {
                matchLength[node] = matchLength[fail[node]];
                matchKeyword[node] = matchKeyword[fail[node]];
            }
            for (int j = 0; j < edgeChars[node].length; j++) {
                char c = edgeChars[node][j];
                int child = edgeTargets[node][j];
                if (node == 0) {
                    fail[child] = 0;
                } else {
                    int f = fail[node];
                    while (f != 0 && find(edgeChars[f], edgeTargets[f], c) < 0) {
                        f = fail[f];
                    }
                    int t = find(edgeChars[f], edgeTargets[f], c);
                    fail[child] = t >= 0 && t != child ? t : 0;
                }
                queue.add(child);
            }
        }
        // terminal nodes whose suffix holds a longer match cannot exist (a suffix is shorter), so matchLength is the
        // longest keyword ending here.
        return new AhoCorasick(kws, edgeChars, edgeTargets, fail, depth, matchLength, matchKeyword, max);
    }

    private static int find(char[] chars, int[] targets, char c) {
        int i = Arrays.binarySearch(chars, c);
        return i >= 0 ? targets[i] : -1;
    }

    private int child(int node, char c) {
        return find(edgeChars[node], edgeTargets[node], c);
    }

    /** The start state. */
    public int start() {
        return 0;
    }

    /** The state after reading {@code c} (already folded or not: it is folded here) in {@code state}. */
    public int next(int state, char c) {
        char f = fold(c);
        int s = state;
        while (true) {
            int t = s == 0 && f < 128 ? asciiNext[f] : child(s, f);
            if (t >= 0) {
                return t;
            }
            if (s == 0) {
                return 0;
            }
            s = fail[s];
        }
    }

    /** The length of the longest keyword ending at {@code state}, 0 when none does. */
    public int matchLength(int state) {
        return matchLength[state];
    }

    /** The keyword ending at {@code state} (as given), or {@code null}. */
    public String matchedKeyword(int state) {
        int k = matchKeyword[state];
        return k < 0 ? null : keywords[k];
    }

    /** How many of the last characters read may still become part of a match (the state's depth). */
    public int depth(int state) {
        return depth[state];
    }

    /** The longest keyword's length. */
    public int maxLength() {
        return maxLength;
    }

    /** The first keyword found in {@code text}, or {@code null}. */
    public String findIn(CharSequence text) {
        int s = 0;
        for (int i = 0; i < text.length(); i++) {
            s = next(s, text.charAt(i));
            if (matchLength[s] > 0) {
                return matchedKeyword(s);
            }
        }
        return null;
    }

    /** The keywords, as given. */
    public List<String> keywords() {
        return List.of(keywords);
    }
}
