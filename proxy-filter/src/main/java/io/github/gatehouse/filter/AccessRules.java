package io.github.gatehouse.filter;

import static java.util.Objects.requireNonNull;

import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.Verdict;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * An ordered allow/deny list, like Squid's {@code http_access}: rules are tried in order, the first whose
 * conditions all hold decides, and when none does the default decides. A denied request gets {@code 403} with a
 * reason naming the rule, which also goes to the access log.
 *
 * <pre>{@code
 * AccessRules rules = AccessRules.builder()
 *     .deny("no-tunnels-but-443", AccessConditions.tunnel(), AccessConditions.not(AccessConditions.port(443)))
 *     .deny("night", AccessConditions.time(clock, LocalTime.of(22, 0), LocalTime.of(6, 0)))
 *     .allow("lan", AccessConditions.clientAddress("10.0.0.0/8", "fd00::/8"))
 *     .build();                                            // nothing matched: deny (the default)
 * }</pre>
 *
 * <p>Whitelist mode is a list of {@code allow} rules with the default {@link Builder#otherwiseDeny() deny};
 * blacklist mode is {@code deny} rules with {@link Builder#otherwiseAllow() allow}. Conditions see the exchange
 * after authentication, so user rules work when an authenticator is configured. {@code CONNECT} requests are
 * judged like any other, before the tunnel opens.
 *
 * <p><b>Threading.</b> Immutable and thread-safe; {@link #onRequest} does not block (if the conditions do not).
 */
public final class AccessRules implements ProxyFilter {

    /** What a rule does when it matches. */
    public enum Action {
        /** Let the request proceed (to later filters). */
        ALLOW,
        /** Answer 403. */
        DENY
    }

    private record Rule(String name, Action action, List<AccessCondition> conditions) {
        boolean matches(Exchange e) {
            for (AccessCondition c : conditions) {
                if (!c.test(e)) {
                    return false;
                }
            }
            return true;
        }
    }

    private final List<Rule> rules;
    private final Action otherwise;
    private final String denyReason;

    private AccessRules(Builder b) {
        this.rules = List.copyOf(b.rules);
        this.otherwise = b.otherwise;
        this.denyReason = b.denyReason;
    }

    /** A builder with no rules and default {@link Action#DENY}. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Verdict onRequest(Exchange exchange) {
        for (Rule rule : rules) {
            if (rule.matches(exchange)) {
                return rule.action == Action.ALLOW ? Verdict.proceed() : deny(exchange, "access rule " + rule.name);
            }
        }
        return otherwise == Action.ALLOW ? Verdict.proceed() : deny(exchange, "the default rule (no rule allowed it)");
    }

    private Verdict deny(Exchange exchange, String rule) {
        String target = exchange.mode() == Exchange.Mode.TUNNEL
                ? exchange.request().host() + ":" + exchange.request().port() : exchange.request().uri().toString();
        return Verdict.deny(denyReason.replace("{rule}", rule).replace("{method}", exchange.request().method())
                .replace("{target}", target));
    }

    @Override
    public String toString() {
        return "AccessRules" + rules.stream().map(r -> r.action + " " + r.name).collect(Collectors.joining("; ", "[", "; "))
                + "otherwise " + otherwise + "]";
    }

    /** Configures {@link AccessRules}; rules keep the order they are added in. Not thread-safe. */
    public static final class Builder {
        private final List<Rule> rules = new ArrayList<>();
        private Action otherwise = Action.DENY;
        private String denyReason = "{method} {target} is denied by {rule}";

        private Builder() {
        }

        /** Adds a rule letting requests that meet all {@code conditions} proceed (none: every request). */
        public Builder allow(AccessCondition... conditions) {
            return rule(null, Action.ALLOW, conditions);
        }

        /** As {@link #allow(AccessCondition...)}, naming the rule {@code name} in logs. */
        public Builder allow(String name, AccessCondition... conditions) {
            return rule(requireNonNull(name, "name"), Action.ALLOW, conditions);
        }

        /** Adds a rule denying requests that meet all {@code conditions} (none: every request). */
        public Builder deny(AccessCondition... conditions) {
            return rule(null, Action.DENY, conditions);
        }

        /** As {@link #deny(AccessCondition...)}, naming the rule {@code name} in deny reasons. */
        public Builder deny(String name, AccessCondition... conditions) {
            return rule(requireNonNull(name, "name"), Action.DENY, conditions);
        }

        /** Requests no rule matched proceed (blacklist mode). */
        public Builder otherwiseAllow() {
            otherwise = Action.ALLOW;
            return this;
        }

        /** Requests no rule matched are denied (whitelist mode; the default). */
        public Builder otherwiseDeny() {
            otherwise = Action.DENY;
            return this;
        }

        /**
         * The 403 reason; {@code {rule}}, {@code {method}} and {@code {target}} are replaced. Default:
         * {@code "{method} {target} is denied by {rule}"}.
         */
        public Builder denyReason(String template) {
            requireNonNull(template, "template");
            if (template.isBlank()) {
                throw new IllegalArgumentException("denyReason: '" + template + "' (expected: a non-blank text)");
            }
            this.denyReason = template;
            return this;
        }

        private Builder rule(String name, Action action, AccessCondition... conditions) {
            requireNonNull(conditions, "conditions");
            List<AccessCondition> list = new ArrayList<>(conditions.length);
            for (AccessCondition c : conditions) {
                list.add(requireNonNull(c, "condition"));
            }
            if (name != null && name.isBlank()) {
                throw new IllegalArgumentException("rule name: '" + name + "' (expected: a non-blank name)");
            }
            String n = name != null ? "'" + name + "'"
                    : "#" + (rules.size() + 1) + " (" + action.name().toLowerCase(java.util.Locale.ROOT) + " "
                    + (list.isEmpty() ? "all" : list.stream().map(String::valueOf).collect(Collectors.joining(" and "))) + ")";
            rules.add(new Rule(n, action, List.copyOf(list)));
            return this;
        }

        /** The rules, in order. */
        public AccessRules build() {
            return new AccessRules(this);
        }
    }
}
