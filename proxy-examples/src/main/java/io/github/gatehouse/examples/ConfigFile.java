package io.github.gatehouse.examples;

import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.examples.LauncherOptions.UsageException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.composer.Composer;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.parser.ParserImpl;
import org.snakeyaml.engine.v2.scanner.StreamReader;

/**
 * The launcher's {@code --config FILE}: a YAML mapping whose keys are the long flag names without their dashes, plus
 * {@code mode}, {@code routes} and {@code pools}.
 *
 * <p>A flag key is turned into the flag itself and given to the one flag parser ({@link LauncherOptions#apply}), so
 * every flag, including flags added later, works in the file with the same checks and the same messages: a scalar
 * {@code key: value} is {@code --key=value}, {@code key: true} is the switch {@code --key} ({@code false} leaves it
 * off), a list is the flag repeated once an item (joined with commas for the few flags that take a comma list, see
 * {@link LauncherOptions#COMMA_LIST_FLAGS}). {@code tls-cert} and {@code tls-key} lists are paired in order.
 *
 * <p>{@code pools} names upstream pools ({@code upstream}, {@code balance}, {@code health-check},
 * {@code health-interval}, {@code retries}, {@code retry-on}, as the flags); {@code routes} is a list tried in order,
 * each with {@code host}, {@code path}, {@code strip-prefix}, {@code rewrite-prefix}, {@code host-header},
 * {@code sticky-cookie}, {@code redirect-https}, and either {@code pool: NAME} or the pool keys inline. A top-level
 * {@code upstream} adds the catch-all route after them, as on the command line.
 *
 * <p>Flags on the command line win: a key whose flag is also on the command line is ignored (a list as a whole).
 * Every error names the file, the line and the key. Paths in the file are relative to the working directory, as
 * they are on the command line.
 *
 * <p>SnakeYAML Engine (YAML 1.2) composes the file into nodes that keep their line, so that errors can name it;
 * only its node graph is used: no object is ever constructed from a tag in the file.
 *
 * <p><b>Threading.</b> Stateless; each call reads the file again.
 */
final class ConfigFile {
    private static final Set<String> POOL_KEYS = Set.of("upstream", "balance", "health-check", "health-interval",
            "retries", "retry-on");
    private static final Set<String> ROUTE_KEYS = Set.of("host", "path", "strip-prefix", "rewrite-prefix",
            "host-header", "sticky-cookie", "redirect-https", "pool");
    /** A configuration file larger than this is refused (a typo'd path to a log file, say). */
    private static final long MAX_BYTES = 4L << 20;

    private ConfigFile() {
    }

    /** The options of {@code args}, with {@code --config FILE} read first when it is there. */
    static LauncherOptions options(String... args) throws UsageException {
        Path file = configArgument(args);
        return file == null ? LauncherOptions.parse(args) : load(file, args);
    }

    /** The {@code --config} file named in {@code args}, or null. */
    static Path configArgument(String... args) throws UsageException {
        Path file = null;
        for (int i = 0; i < args.length; i++) {
            String value = null;
            if (args[i].equals("--config")) {
                if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
                    throw new UsageException("--config needs a value");
                }
                value = args[i + 1];
            } else if (args[i].startsWith("--config=")) {
                value = args[i].substring("--config=".length());
            }
            if (value != null) {
                if (file != null) {
                    throw new UsageException("--config given twice");
                }
                file = Path.of(value);
            }
        }
        return file;
    }

    /** Reads {@code file}, then applies {@code args} over it, and checks the whole. */
    static LauncherOptions load(Path file, String... args) throws UsageException {
        Node root = compose(file);
        Set<String> given = givenOnCommandLine(args);
        LauncherOptions o = LauncherOptions.empty();
        Map<String, NodeTuple> seen = new LinkedHashMap<>();
        if (root != null) {
            if (!(root instanceof MappingNode)) {
                throw error(file, root, null, "expected a mapping of keys such as 'mode: reverse' at the top");
            }
            for (NodeTuple t : ((MappingNode) root).getValue()) {
                String name = keyName(file, t.getKeyNode());
                if (seen.put(name, t) != null) {
                    throw error(file, t.getKeyNode(), name, "given twice");
                }
            }
        }
        for (Map.Entry<String, NodeTuple> e : seen.entrySet()) {
            String name = e.getKey();
            Node value = e.getValue().getValueNode();
            switch (name) {
                case "mode":
                    String mode = scalar(file, name, value);
                    if (!mode.equals("forward") && !mode.equals("reverse")) {
                        throw error(file, value, name, "'" + mode + "' (expected: forward or reverse)");
                    }
                    if (!given.contains("mode")) {
                        LauncherOptions.apply(o, mode);
                    }
                    break;
                case "routes":
                case "pools":
                case "tls-cert":
                case "tls-key":
                    break; // below
                case "config":
                    throw error(file, e.getValue().getKeyNode(), name, "a configuration file cannot name another one");
                default:
                    if (!given.contains(name)) {
                        applyKey(file, o, name, value);
                    }
            }
        }
        if (!given.contains("tls-cert") && !given.contains("tls-key")) {
            applyTlsPairs(file, o, seen.get("tls-cert"), seen.get("tls-key"));
        }
        LauncherOptions.apply(o, args);
        Map<String, UpstreamPool> pools = seen.containsKey("pools") ? pools(file, seen.get("pools").getValueNode())
                : Map.of();
        if (seen.containsKey("routes")) {
            NodeTuple routes = seen.get("routes");
            if (o.mode == LauncherOptions.Mode.FORWARD) {
                throw error(file, routes.getKeyNode(), "routes", "routes are for reverse mode");
            }
            o.fileRoutes.addAll(routes(file, routes.getValueNode(), pools));
        }
        o.configFile = file;
        try {
            return LauncherOptions.finish(o);
        } catch (UsageException e) {
            throw new UsageException(file + ": " + e.getMessage());
        }
    }

    private static Node compose(Path file) throws UsageException {
        String text;
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new UsageException(file + ": larger than " + (MAX_BYTES >> 20) + " MiB (expected: a configuration file)");
            }
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UsageException("--config: cannot read " + file + " (" + e.getMessage() + ")");
        }
        LoadSettings settings = LoadSettings.builder().setLabel(file.toString()).setAllowDuplicateKeys(false)
                .setMaxAliasesForCollections(50).build();
        try {
            Composer composer = new Composer(settings, new ParserImpl(settings, new StreamReader(settings, text)));
            Optional<Node> root = composer.getSingleNode();
            return root.orElse(null);
        } catch (MarkedYamlEngineException e) {
            Optional<Mark> mark = e.getProblemMark().isPresent() ? e.getProblemMark() : e.getContextMark();
            String where = mark.map(m -> " line " + (m.getLine() + 1)).orElse("");
            throw new UsageException(file + where + ": not valid YAML: " + e.getProblem());
        } catch (YamlEngineException e) {
            throw new UsageException(file + ": not valid YAML: " + e.getMessage());
        }
    }

    /** The flag names given on the command line (without dashes), and {@code mode} when a mode word is there. */
    private static Set<String> givenOnCommandLine(String... args) {
        Set<String> names = new HashSet<>();
        for (String a : args) {
            if (a.equals("forward") || a.equals("reverse")) {
                names.add("mode");
            } else if (a.startsWith("--")) {
                int eq = a.indexOf('=');
                names.add(eq > 0 ? a.substring(2, eq) : a.substring(2));
            }
        }
        return names;
    }

    /** One flag key: its value turned into the flag, checked by the flag parser. */
    private static void applyKey(Path file, LauncherOptions o, String name, Node value) throws UsageException {
        if (value instanceof SequenceNode) {
            List<Node> items = ((SequenceNode) value).getValue();
            if (items.isEmpty()) {
                checkKnown(file, name, value);
                return;
            }
            if (LauncherOptions.COMMA_LIST_FLAGS.contains(name)) {
                List<String> parts = new ArrayList<>();
                for (Node item : items) {
                    parts.add(scalar(file, name, item));
                }
                applyFlag(file, o, name, value, "--" + name + "=" + String.join(",", parts));
            } else {
                for (Node item : items) {
                    applyFlag(file, o, name, item, "--" + name + "=" + scalar(file, name, item));
                }
            }
            return;
        }
        if (value instanceof ScalarNode && ((ScalarNode) value).getTag().equals(Tag.BOOL)
                && LauncherOptions.ON_OFF_FLAGS.contains(name)) {
            boolean on = Boolean.parseBoolean(((ScalarNode) value).getValue());
            applyFlag(file, o, name, value, "--" + name + "=" + (on ? "on" : "off"));
            return;
        }
        if (value instanceof ScalarNode && ((ScalarNode) value).getTag().equals(Tag.BOOL)) {
            if (Boolean.parseBoolean(((ScalarNode) value).getValue())) {
                applyFlag(file, o, name, value, "--" + name);
            } else {
                // false: the switch stays off, but the key must still be a switch
                applyFlag(file, LauncherOptions.empty(), name, value, "--" + name);
            }
            return;
        }
        applyFlag(file, o, name, value, "--" + name + "=" + scalar(file, name, value));
    }

    private static void checkKnown(Path file, String name, Node where) throws UsageException {
        try {
            LauncherOptions.apply(LauncherOptions.empty(), "--" + name + "=x");
        } catch (LauncherOptions.UnknownFlagException e) {
            throw unknown(file, where, name);
        } catch (UsageException e) {
            // known, the value was wrong
        }
    }

    private static void applyFlag(Path file, LauncherOptions o, String name, Node where, String flag)
            throws UsageException {
        try {
            LauncherOptions.apply(o, flag);
        } catch (LauncherOptions.UnknownFlagException e) {
            throw unknown(file, where, name);
        } catch (UsageException e) {
            String m = e.getMessage();
            if (m.startsWith("--" + name + ": ")) {
                m = m.substring(name.length() + 4);
            } else if (m.equals("--" + name + " needs a value")) {
                m = "needs a value (expected: " + name + ": VALUE, not true)";
            }
            throw error(file, where, name, m);
        }
    }

    private static UsageException unknown(Path file, Node where, String name) {
        return error(file, where, name, "unknown key (expected: a flag name without its dashes, mode, routes or pools;"
                + " see --help)");
    }

    private static void applyTlsPairs(Path file, LauncherOptions o, NodeTuple certs, NodeTuple keys)
            throws UsageException {
        List<Node> c = certs == null ? List.of() : items(certs.getValueNode());
        List<Node> k = keys == null ? List.of() : items(keys.getValueNode());
        if (c.size() != k.size()) {
            NodeTuple where = certs != null ? certs : keys;
            throw error(file, where.getKeyNode(), certs != null ? "tls-cert" : "tls-key", c.size() + " tls-cert and "
                    + k.size() + " tls-key (expected: one tls-key for each tls-cert, in the same order)");
        }
        for (int i = 0; i < c.size(); i++) {
            applyFlag(file, o, "tls-cert", c.get(i), "--tls-cert=" + scalar(file, "tls-cert", c.get(i)));
            applyFlag(file, o, "tls-key", k.get(i), "--tls-key=" + scalar(file, "tls-key", k.get(i)));
        }
    }

    private static List<Node> items(Node value) {
        return value instanceof SequenceNode ? ((SequenceNode) value).getValue() : List.of(value);
    }

    // ---- pools and routes ------------------------------------------------------------------------------------

    private static Map<String, UpstreamPool> pools(Path file, Node value) throws UsageException {
        if (!(value instanceof MappingNode)) {
            throw error(file, value, "pools", "expected a mapping of pool names to pools");
        }
        Map<String, UpstreamPool> pools = new HashMap<>();
        for (NodeTuple t : ((MappingNode) value).getValue()) {
            String name = keyName(file, t.getKeyNode());
            if (!(t.getValueNode() instanceof MappingNode)) {
                throw error(file, t.getValueNode(), "pools." + name, "expected a mapping with upstream: and the pool keys");
            }
            Map<String, Node> keys = mapping(file, (MappingNode) t.getValueNode(), POOL_KEYS, "pools." + name);
            if (pools.put(name, pool(file, keys, t.getKeyNode(), "pools." + name)) != null) {
                throw error(file, t.getKeyNode(), "pools." + name, "given twice");
            }
        }
        return pools;
    }

    /** A pool from its keys, through the flag parser (the same checks as {@code reverse --upstream ...}). */
    private static UpstreamPool pool(Path file, Map<String, Node> keys, Node where, String context) throws UsageException {
        if (!keys.containsKey("upstream")) {
            throw error(file, where, context, "has no upstream (expected: upstream: URL or a list of them)");
        }
        LauncherOptions o = LauncherOptions.empty();
        LauncherOptions.apply(o, "reverse");
        for (Map.Entry<String, Node> e : keys.entrySet()) {
            if (e.getKey().equals("upstream")) {
                for (Node item : items(e.getValue())) {
                    applyFlag(file, o, "upstream", item, "--upstream=" + upstream(file, item));
                }
            } else {
                applyKey(file, o, e.getKey(), e.getValue());
            }
        }
        try {
            LauncherOptions.finish(o);
            return Gatehouse.pool(o);
        } catch (UsageException | IllegalArgumentException e) {
            throw error(file, where, context, e.getMessage());
        }
    }

    /** An upstream item: {@code URL}, {@code URL,weight=N}, or a mapping {@code {url: URL, weight: N}}. */
    private static String upstream(Path file, Node item) throws UsageException {
        if (item instanceof MappingNode) {
            Map<String, Node> m = mapping(file, (MappingNode) item, Set.of("url", "weight"), "upstream");
            if (!m.containsKey("url")) {
                throw error(file, item, "upstream", "has no url (expected: {url: URL, weight: N})");
            }
            String url = scalar(file, "url", m.get("url"));
            return m.containsKey("weight") ? url + ",weight=" + scalar(file, "weight", m.get("weight")) : url;
        }
        return scalar(file, "upstream", item);
    }

    private static List<Route> routes(Path file, Node value, Map<String, UpstreamPool> pools) throws UsageException {
        if (!(value instanceof SequenceNode)) {
            throw error(file, value, "routes", "expected a list of routes (each starting with '- ')");
        }
        List<Route> routes = new ArrayList<>();
        int n = 0;
        for (Node item : ((SequenceNode) value).getValue()) {
            n++;
            String context = "routes[" + n + "]";
            if (!(item instanceof MappingNode)) {
                throw error(file, item, context, "expected a mapping such as {path: /api, upstream: http://host:port}");
            }
            Set<String> allowed = new HashSet<>(ROUTE_KEYS);
            allowed.addAll(POOL_KEYS);
            Map<String, Node> keys = mapping(file, (MappingNode) item, allowed, context);
            routes.add(route(file, item, keys, pools, context));
        }
        return routes;
    }

    private static Route route(Path file, Node item, Map<String, Node> keys, Map<String, UpstreamPool> pools,
            String context) throws UsageException {
        Map<String, Node> poolKeys = new LinkedHashMap<>();
        for (Map.Entry<String, Node> e : keys.entrySet()) {
            if (POOL_KEYS.contains(e.getKey())) {
                poolKeys.put(e.getKey(), e.getValue());
            }
        }
        UpstreamPool pool;
        if (keys.containsKey("pool")) {
            if (!poolKeys.isEmpty()) {
                throw error(file, poolKeys.values().iterator().next(), context + "." + poolKeys.keySet().iterator().next(),
                        "a route names a pool or has its own upstream keys, not both");
            }
            String name = scalar(file, "pool", keys.get("pool"));
            pool = pools.get(name);
            if (pool == null) {
                throw error(file, keys.get("pool"), context + ".pool", "no pool named '" + name + "' (expected one of "
                        + new java.util.TreeSet<>(pools.keySet()) + " under pools:)");
            }
        } else {
            pool = pool(file, poolKeys, item, context);
        }
        String key = null;
        try {
            key = "host";
            Route r = keys.containsKey("host") ? Route.host(scalar(file, key, keys.get(key))) : Route.any();
            key = "path";
            if (keys.containsKey(key)) {
                r = r.pathPrefix(scalar(file, key, keys.get(key)));
            }
            key = "strip-prefix";
            if (flag(file, context + "." + key, keys.get(key))) {
                r = r.stripPrefix();
            }
            key = "rewrite-prefix";
            if (keys.containsKey(key)) {
                r = r.rewritePrefix(scalar(file, key, keys.get(key)));
            }
            key = "host-header";
            if (keys.containsKey(key)) {
                String h = scalar(file, key, keys.get(key));
                r = h.equals("preserve") ? r.preserveHost() : h.equals("upstream") ? r.upstreamHost() : r.hostHeader(h);
            }
            key = "sticky-cookie";
            if (keys.containsKey(key)) {
                r = r.stickySessions(scalar(file, key, keys.get(key)));
            }
            key = "redirect-https";
            if (flag(file, context + "." + key, keys.get(key))) {
                r = r.redirectToHttps();
            }
            return r.to(pool);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw error(file, keys.getOrDefault(key, item), context + "." + key, e.getMessage());
        }
    }

    private static boolean flag(Path file, String name, Node value) throws UsageException {
        if (value == null) {
            return false;
        }
        if (value instanceof ScalarNode && ((ScalarNode) value).getTag().equals(Tag.BOOL)) {
            return Boolean.parseBoolean(((ScalarNode) value).getValue());
        }
        throw error(file, value, name, "expected true or false");
    }

    // ---- nodes -----------------------------------------------------------------------------------------------

    private static Map<String, Node> mapping(Path file, MappingNode node, Set<String> allowed, String context)
            throws UsageException {
        Map<String, Node> keys = new LinkedHashMap<>();
        for (NodeTuple t : node.getValue()) {
            String name = keyName(file, t.getKeyNode());
            if (!allowed.contains(name)) {
                throw error(file, t.getKeyNode(), context + "." + name, "unknown key (expected one of "
                        + new java.util.TreeSet<>(allowed) + ")");
            }
            if (keys.put(name, t.getValueNode()) != null) {
                throw error(file, t.getKeyNode(), context + "." + name, "given twice");
            }
        }
        return keys;
    }

    private static String keyName(Path file, Node key) throws UsageException {
        if (!(key instanceof ScalarNode)) {
            throw error(file, key, null, "a key must be a plain name such as 'port'");
        }
        return ((ScalarNode) key).getValue();
    }

    private static String scalar(Path file, String name, Node value) throws UsageException {
        if (!(value instanceof ScalarNode)) {
            throw error(file, value, name, "expected a single value, not a " + (value instanceof SequenceNode ? "list" : "mapping"));
        }
        ScalarNode s = (ScalarNode) value;
        if (s.getTag().equals(Tag.NULL)) {
            throw error(file, value, name, "has no value");
        }
        return s.getValue();
    }

    private static UsageException error(Path file, Node where, String key, String message) {
        String line = where.getStartMark().map(m -> " line " + (m.getLine() + 1)).orElse("");
        return new UsageException(file + line + (key != null ? ": key '" + key + "'" : "") + ": " + message);
    }
}
