package io.github.gatehouse.examples;

import io.github.gatehouse.core.Exchange;
import io.github.gatehouse.core.ProxyFilter;
import io.github.gatehouse.core.ProxyServer;
import io.github.gatehouse.core.ResponseHead;
import io.github.gatehouse.core.Verdict;
import java.time.LocalTime;

/**
 * A custom filter: outside office hours only the intranet may be reached, every request carries a tag upstream,
 * and responses get a header naming the user. Filters are plain lambdas or classes; keep them non-blocking.
 */
public final class CustomFilterExample {
    private CustomFilterExample() {
    }

    /** Denies external hosts outside 07:00-19:00, tags requests, marks responses. */
    static final class OfficeHours implements ProxyFilter {
        @Override
        public Verdict onRequest(Exchange exchange) {
            LocalTime now = LocalTime.now();
            boolean office = now.isAfter(LocalTime.of(7, 0)) && now.isBefore(LocalTime.of(19, 0));
            if (!office && !exchange.request().host().endsWith(".intranet.example")) {
                return Verdict.deny("external sites are closed outside office hours");
            }
            exchange.request().headers().set("X-Gatehouse-Tag", "lan");
            return Verdict.proceed();
        }

        @Override
        public void onResponse(Exchange exchange, ResponseHead response) {
            exchange.user().ifPresent(user -> response.headers().set("X-Served-For", user));
        }
    }

    public static void main(String[] args) throws InterruptedException {
        ProxyServer proxy = ProxyServer.builder().listen(3128).forward().filter(new OfficeHours()).build().start();
        Runtime.getRuntime().addShutdownHook(new Thread(proxy::close));
        Thread.currentThread().join();
    }
}
