package io.github.gatehouse.core.internal;

import org.eclipse.jetty.client.ProtocolHandler;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.client.transport.HttpConversation;
import org.eclipse.jetty.client.transport.HttpExchange;
import org.eclipse.jetty.client.transport.HttpRequest;
import org.eclipse.jetty.http.HttpFields;

/**
 * The upstream clients' only protocol handler: takes each interim response ({@code 100 Continue},
 * {@code 102 Processing}, {@code 103 Early Hints}) off the exchange, so that its fields never reach the final
 * response, and hands it to the exchange's {@link UpstreamCall} to relay to the client.
 *
 * <p>jetty-client's own handlers are removed after the client starts (it puts them back on every start): the
 * redirect and authentication handlers would act on the origin's 3xx/401/407 behind the relay's back, and the
 * stock interim handlers drop 1xx responses. The relay never sends {@code Expect} upstream (it answers the
 * client's {@code Expect: 100-continue} itself once it reads the body), so no upload waits on a 100 here.
 *
 * <p>Stateless and thread-safe: one instance serves every exchange of a client.
 */
final class InterimResponses implements ProtocolHandler {
    /** The request attribute that holds the exchange's relay. */
    static final String RELAY = UpstreamCall.class.getName();

    @Override
    public String getName() {
        return "gatehouse-interim";
    }

    @Override
    public boolean accept(Request request, Response response) {
        int status = response.getStatus();
        return status == 100 || status == 102 || status == 103;
    }

    @Override
    public Response.Listener getResponseListener() {
        return new Listener();
    }

    private static final class Listener implements Response.Listener {
        @Override
        public void onSuccess(Response response) {
            Request request = response.getRequest();
            HttpConversation conversation = ((HttpRequest) request).getConversation();
            // the next response on this exchange goes to the relay's listener again
            conversation.updateResponseListeners(null);
            HttpExchange exchange = conversation.getExchanges().peekLast();
            int status = response.getStatus();
            HttpFields fields = HttpFields.build(response.getHeaders());
            if (exchange != null) {
                exchange.resetResponse();
            }
            Object relay = request.getAttributes().get(RELAY);
            if (relay instanceof UpstreamCall) {
                ((UpstreamCall) relay).onInterim(status, fields);
            }
        }

        @Override
        public void onFailure(Response response, Throwable failure) {
            HttpConversation conversation = ((HttpRequest) response.getRequest()).getConversation();
            conversation.updateResponseListeners(null);
            HttpExchange exchange = conversation.getExchanges().peekLast();
            if (exchange != null) {
                exchange.getResponseListeners().emitFailureComplete(
                        new Result(exchange.getRequest(), exchange.getRequestFailure(), response, failure));
            }
        }
    }
}
