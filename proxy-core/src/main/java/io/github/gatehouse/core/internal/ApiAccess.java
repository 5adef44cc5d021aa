package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.Interception;
import io.github.gatehouse.core.Route;
import io.github.gatehouse.core.UpstreamMember;
import io.github.gatehouse.core.UpstreamPool;
import io.github.gatehouse.core.UpstreamTls;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * The relay's way into the package-private parts of the API types (the pattern of the JDK's {@code SharedSecrets}):
 * each API type hands its hooks over in its static initialiser, so the hooks need not be public API. This package is
 * exported only to Gatehouse's own modules.
 *
 * <p>Thread safety: each hook is set once, during the class initialisation of its API type, and read through a
 * volatile field; the getters initialise the API type first when needed.
 */
public final class ApiAccess {
    private ApiAccess() {
    }

    /** Hooks on {@link UpstreamPool}. */
    public interface Pools {
        /** Picks a member among the available ones not in {@code tried} and below the request limit. */
        Optional<UpstreamMember> select(UpstreamPool pool, Exchange exchange, Collection<UpstreamMember> tried);

        /** Whether {@code pool} may eject one more member. */
        boolean mayEject(UpstreamPool pool);

        /** Counts one request toward the retry budget. */
        void earnRetryBudget(UpstreamPool pool);

        /** Takes one retry from the budget, if there is one. */
        boolean spendRetryBudget(UpstreamPool pool);

        /** Counts a request refused because every available member was at its request limit. */
        void rejected(UpstreamPool pool);

        /** A server uses {@code pool} now: its deprecated configuring methods throw from now on. */
        void markInUse(UpstreamPool pool);

        /** Replaces members of {@code pool} by the live members with their URLs; returns how many. */
        int adoptMembers(UpstreamPool pool, Collection<? extends UpstreamMember> live);
    }

    /** Hooks on {@link Route}. */
    public interface Routes {
        /** Whether {@code route} takes a request for {@code host} (normalised, no port) and raw {@code path}. */
        boolean matches(Route route, String host, String path);

        /** The path to send upstream for a matched request path. */
        String rewritePath(Route route, String path);
    }

    private static volatile Pools pools;
    private static volatile Routes routes;
    private static volatile Function<UpstreamTls, List<TlsMaterial.Source>> upstreamTls;
    private static volatile Function<Interception, List<TlsMaterial.Source>> interception;

    /** Called once by {@link UpstreamPool}'s class initialiser. */
    public static void setPools(Pools hooks) {
        pools = once(pools, hooks);
    }

    /** Called once by {@link Route}'s class initialiser. */
    public static void setRoutes(Routes hooks) {
        routes = once(routes, hooks);
    }

    /** Called once by {@link UpstreamTls}'s class initialiser: the client certificate's key material, or none. */
    public static void setUpstreamTls(Function<UpstreamTls, List<TlsMaterial.Source>> hooks) {
        upstreamTls = once(upstreamTls, hooks);
    }

    /** Called once by {@link Interception}'s class initialiser: the CA's key material. */
    public static void setInterception(Function<Interception, List<TlsMaterial.Source>> hooks) {
        interception = once(interception, hooks);
    }

    /** The hooks on {@link UpstreamPool}, initialising that class first if nothing has yet. */
    public static Pools pools() {
        Pools p = pools;
        return p != null ? p : init(UpstreamPool.class, () -> pools);
    }

    /** The hooks on {@link Route}, initialising that class first if nothing has yet. */
    public static Routes routes() {
        Routes r = routes;
        return r != null ? r : init(Route.class, () -> routes);
    }

    /** The client certificate's key material of {@code tls}, or an empty list. */
    public static List<TlsMaterial.Source> clientSources(UpstreamTls tls) {
        Function<UpstreamTls, List<TlsMaterial.Source>> t = upstreamTls;
        return (t != null ? t : init(UpstreamTls.class, () -> upstreamTls)).apply(tls);
    }

    /** The CA's key material of {@code i}. */
    public static List<TlsMaterial.Source> caSources(Interception i) {
        Function<Interception, List<TlsMaterial.Source>> t = interception;
        return (t != null ? t : init(Interception.class, () -> interception)).apply(i);
    }

    private static <T> T once(T current, T hooks) {
        if (current != null) {
            throw new IllegalStateException("hooks already set");
        }
        return java.util.Objects.requireNonNull(hooks, "hooks");
    }

    private static <T> T init(Class<?> type, java.util.function.Supplier<T> field) {
        try {
            Class.forName(type.getName(), true, type.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
        return java.util.Objects.requireNonNull(field.get(), type.getSimpleName() + " did not register its hooks");
    }
}
