package io.github.gatehouse.core.internal;

import io.github.gatehouse.core.CacheDecision;
import io.github.gatehouse.core.CacheWriter;
import io.github.gatehouse.core.HttpCache;
import io.github.gatehouse.core.HttpHeaders;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.commons.net.ftp.FTP;
import org.apache.commons.net.ftp.FTPClient;
import org.apache.commons.net.ftp.FTPFile;
import org.apache.commons.net.ftp.FTPReply;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The FTP gateway (Squid's {@code ftp://} support): phase 7 for a forward {@code GET} or {@code HEAD} of an
 * {@code ftp://} URL. To the rest of the relay it looks like an origin: it produces a response head that passes the
 * cache's store decision and the response filters, and a body that streams through the one {@link BodyRelay}.
 *
 * <ul>
 *   <li>Login: the URL's user and password, else {@code Authorization: Basic} from the client, else anonymous
 *   ({@code anonymous} / {@code gatehouse@}). Credentials are never logged (the relay logs targets without
 *   user info). A refused login is {@code 401} with {@code WWW-Authenticate: Basic realm="FTP host"}.</li>
 *   <li>Passive mode only; the data connection always goes to the control connection's address, whatever address
 *   the server's {@code PASV} reply names (a server cannot point the proxy elsewhere). Binary type.</li>
 *   <li>A file: {@code 200} with {@code Content-Length} from {@code SIZE} and {@code Last-Modified} from
 *   {@code MDTM} when the server gives them, {@code Content-Type} guessed from the name (else
 *   {@code application/octet-stream}); {@code If-Modified-Since} answered {@code 304} when {@code MDTM} allows.
 *   The cache's heuristic freshness applies to it like to any {@code 200} with {@code Last-Modified}.</li>
 *   <li>A directory ({@code /} at the end): a small HTML listing with escaped names and links (at most 10,000
 *   entries); a directory named without the {@code /} gets {@code 301} to it.</li>
 *   <li>Errors: missing file {@code 404}, DNS or connection trouble {@code 502} (or {@code 504} on a timeout), an
 *   internal destination {@code 403}, a full gateway {@code 503}; each with {@code Proxy-Status} and a log line.</li>
 * </ul>
 *
 * <p><b>Threading.</b> FTP I/O is blocking, so it never runs on Jetty's threads: each step (connect and head, then
 * each chunk of the body) is a task on a bounded executor of its own ({@code gatehouse-ftp-N}, at most 16 threads
 * and 256 waiting tasks). The next chunk is read only when the client has taken the previous one
 * ({@link BodyRelay.Source#demand}), and no thread waits while the client is slow. One exchange's tasks run one at
 * a time, each submitted by the previous step.
 */
final class FtpGateway extends AbstractLifeCycle {
    private static final Logger LOG = LoggerFactory.getLogger(FtpGateway.class);
    static final int MAX_LISTING = 10_000;
    private static final int CHUNK = 16 * 1024;
    /** IMF-fixdate (RFC 9110 §5.6.7): two-digit day, GMT. */
    private static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'",
            java.util.Locale.US).withZone(ZoneOffset.UTC);

    private final RelayHandler relay;
    private final DestinationPolicy policy;
    private final Duration connectTimeout;
    private final Duration readTimeout;
    private ThreadPoolExecutor executor;

    FtpGateway(RelayHandler relay, DestinationPolicy policy, Duration connectTimeout, Duration readTimeout) {
        this.relay = relay;
        this.policy = policy;
        this.connectTimeout = connectTimeout;
        this.readTimeout = readTimeout;
    }

    @Override
    protected void doStart() {
        AtomicInteger n = new AtomicInteger();
        executor = new ThreadPoolExecutor(16, 16, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(256), r -> {
            Thread t = new Thread(r, "gatehouse-ftp-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        executor.allowCoreThreadTimeOut(true);
    }

    @Override
    protected void doStop() {
        executor.shutdownNow();
    }

    /** Phase 7 for an {@code ftp://} target: the transfer starts on the gateway's executor. */
    void send(ExchangeContext x) {
        x.moveTo(RelayState.AWAITING_RESPONSE);
        String method = x.exchange.request().method();
        if (!"GET".equals(method) && !"HEAD".equals(method)) {
            relay.answers().answer(x, 405, "the FTP gateway serves GET and HEAD only", null,
                    new HttpHeaders().add("Allow", "GET, HEAD"), true);
            return;
        }
        try {
            executor.execute(() -> new Transfer(x).start());
        } catch (RejectedExecutionException e) {
            LOG.warn("{} FTP gateway is full; answering 503", x.exchange.id());
            relay.answers().answer(x, 503, "the FTP gateway is busy; retry shortly", "connection_limit_reached",
                    new HttpHeaders().add("Retry-After", "1"), false);
        }
    }

    /** One FTP exchange: its control connection, and the body source once the head is out. */
    private final class Transfer implements BodyRelay.Source {
        private final ExchangeContext x;
        private final FTPClient ftp = new FTPClient();
        private volatile InputStream data;
        private volatile BodyRelay body;
        private volatile boolean aborted;
        private String host;

        Transfer(ExchangeContext x) {
            this.x = x;
        }

        void start() {
            RequestHeadImpl head = x.exchange.requestImpl();
            host = head.host();
            String path;
            try {
                path = URLDecoder.decode(head.path().replace("+", "%2B"), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                relay.answers().badRequest(x, "invalid percent-encoding in the FTP path");
                return;
            }
            if (path.indexOf('\r') >= 0 || path.indexOf('\n') >= 0 || path.indexOf('\0') >= 0) {
                relay.answers().badRequest(x, "FTP path has control characters");
                return;
            }
            InetAddress address;
            try {
                address = resolve(host, head.port());
            } catch (DestinationPolicy.DeniedDestinationException e) {
                x.exchange.deny();
                relay.answers().answer(x, 403, e.getMessage(), "destination_ip_prohibited", null, false);
                return;
            } catch (IOException e) {
                relay.answers().answer(x, 502, host + ": host name could not be resolved", "dns_error", null, false);
                return;
            }
            String[] login = credentials();
            loggedInAsUser = login[2] != null;
            try {
                ftp.setConnectTimeout((int) connectTimeout.toMillis());
                ftp.setDefaultTimeout((int) readTimeout.toMillis());
                ftp.setDataTimeout(readTimeout);
                ftp.setControlEncoding("UTF-8");
                InetAddress control = address;
                // the data connection goes where the control connection went, whatever the PASV reply says
                ftp.setPassiveNatWorkaroundStrategy(hostname -> control.getHostAddress());
                ftp.connect(address, head.port());
                ftp.setSoTimeout((int) readTimeout.toMillis());
                if (!FTPReply.isPositiveCompletion(ftp.getReplyCode())) {
                    fail(502, "FTP server " + host + " refused the session: " + reply(), "connection_refused");
                    return;
                }
                if (!ftp.login(login[0], login[1])) {
                    String why = "FTP login as " + (login[2] != null ? "the given user" : "anonymous") + " failed: " + reply();
                    close();
                    LOG.info("{} {}", x.exchange.id(), why);
                    relay.answers().answer(x, 401, why, null, new HttpHeaders().add("WWW-Authenticate",
                            "Basic realm=\"FTP " + host.replace("\"", "") + "\", charset=\"UTF-8\""), false);
                    return;
                }
                ftp.enterLocalPassiveMode();
                if (!ftp.setFileType(FTP.BINARY_FILE_TYPE)) {
                    fail(502, "FTP server " + host + " refused binary type: " + reply(), "destination_unavailable");
                    return;
                }
                String ftpPath = path.startsWith("/") ? path.substring(1) : path;
                if (ftpPath.isEmpty() || path.endsWith("/")) {
                    listing(head, ftpPath, path);
                } else {
                    file(head, ftpPath, path);
                }
            } catch (IOException e) {
                Failures.Classified c = e instanceof java.net.SocketTimeoutException
                        ? new Failures.Classified(504, "connection_timeout", "FTP server timed out")
                        : Failures.classify(e);
                fail(c.status(), host + ": " + c.description(), c.proxyStatusError());
            } catch (RuntimeException e) {
                LOG.error("{} FTP gateway failed", x.exchange.id(), e);
                close();
                relay.answers().internalError(x, "FTP gateway failed");
            }
        }

        private InetAddress resolve(String name, int port) throws IOException {
            InetAddress[] all = InetAddress.getAllByName(name);
            for (InetAddress a : all) {
                if (policy.allows(new InetSocketAddress(a, port))) {
                    return a;
                }
            }
            throw new DestinationPolicy.DeniedDestinationException(name, port, all[0]);
        }

        /** user, password, and the user name when one was given (else null). */
        private String[] credentials() {
            String userInfo = x.request.getHttpURI().getUser();
            if (userInfo != null && !userInfo.isEmpty()) {
                int colon = userInfo.indexOf(':');
                String user = decode(colon < 0 ? userInfo : userInfo.substring(0, colon));
                return new String[] {user, colon < 0 ? "" : decode(userInfo.substring(colon + 1)), user};
            }
            java.util.Optional<io.github.gatehouse.core.Credentials.UserPassword> basic =
                    io.github.gatehouse.core.Credentials.parse(x.request.getHeaders().get("Authorization"))
                            .flatMap(io.github.gatehouse.core.Credentials::basic);
            if (basic.isPresent()) {
                return new String[] {basic.get().user(), basic.get().password(), basic.get().user()};
            }
            return new String[] {"anonymous", "gatehouse@", null};
        }

        private void file(RequestHeadImpl head, String ftpPath, String path) throws IOException {
            long size = -1;
            String sizeReply = ftp.getSize(ftpPath);
            if (sizeReply != null) {
                try {
                    size = Long.parseLong(sizeReply.trim());
                } catch (NumberFormatException e) {
                    size = -1;
                }
            }
            Instant modified = ftp.mdtmInstant(ftpPath);
            HttpHeaders headers = new HttpHeaders().add("Date", HTTP_DATE.format(Instant.now()));
            headers.add("Content-Type", contentType(path));
            if (modified != null) {
                headers.add("Last-Modified", HTTP_DATE.format(modified));
                Instant since = httpDate(head.headers().get("If-Modified-Since"));
                if (since != null && !modified.truncatedTo(java.time.temporal.ChronoUnit.SECONDS).isAfter(since)) {
                    respond(304, headers, false);
                    return;
                }
            }
            if ("HEAD".equals(head.method())) {
                if (size >= 0) {
                    headers.add("Content-Length", Long.toString(size));
                } else if (isDirectory(ftpPath)) {
                    redirectToDirectory(path);
                    return;
                } else if (modified == null) {
                    notFound(path);
                    return;
                }
                respond(200, headers, false);
                return;
            }
            InputStream in = ftp.retrieveFileStream(ftpPath);
            if (in == null) {
                int code = ftp.getReplyCode();
                String retrieveReply = reply(); // before isDirectory's commands replace it
                if (code == 550 && isDirectory(ftpPath)) {
                    redirectToDirectory(path);
                } else if (code == 550 || code == 553) {
                    notFound(path, retrieveReply);
                } else {
                    fail(502, "FTP server " + host + " could not send " + path + ": " + retrieveReply,
                            "destination_unavailable");
                }
                return;
            }
            data = in;
            if (size >= 0) {
                headers.add("Content-Length", Long.toString(size));
            }
            respond(200, headers, true);
        }

        private boolean isDirectory(String ftpPath) throws IOException {
            String here = ftp.printWorkingDirectory();
            if (ftp.changeWorkingDirectory(ftpPath)) {
                if (here != null) {
                    ftp.changeWorkingDirectory(here);
                }
                return true;
            }
            return false;
        }

        private void redirectToDirectory(String path) {
            close();
            String location = x.exchange.requestImpl().target() + "/";
            relay.answers().answer(x, 301, path + " is a directory", null, new HttpHeaders().add("Location", location),
                    false);
        }

        private void notFound(String path) {
            notFound(path, reply());
        }

        private void notFound(String path, String ftpReply) {
            String why = "no such file on " + host + ": " + path + " (" + ftpReply + ")";
            close();
            relay.answers().answer(x, 404, why, "destination_not_found", null, false);
        }

        private void listing(RequestHeadImpl head, String ftpPath, String path) throws IOException {
            if (!ftpPath.isEmpty() && !ftp.changeWorkingDirectory(ftpPath)) {
                notFound(path);
                return;
            }
            FTPFile[] files = ftp.listFiles();
            if (files == null) {
                fail(502, "FTP server " + host + " sent no listing for " + path + ": " + reply(), "destination_unavailable");
                return;
            }
            byte[] page = html(path, files).getBytes(StandardCharsets.UTF_8);
            close();
            HttpHeaders headers = new HttpHeaders().add("Date", HTTP_DATE.format(Instant.now()))
                    .add("Content-Type", "text/html; charset=utf-8")
                    .add("Content-Length", Integer.toString(page.length));
            respond(200, headers, false);
            if (body != null && !"HEAD".equals(head.method())) {
                pageSent = true; // before onData: the write may complete, and demand(), on this thread
                body.onData(ByteBuffer.wrap(page), null);
            } else if (body != null) {
                body.onEnd();
            }
        }

        private volatile boolean pageSent;
        /** Whether the session logged in with the client's credentials: its answers are then that user's alone. */
        private volatile boolean loggedInAsUser;

        /** Phase 8 for the gateway's head: the cache's store decision and the response filters, then the body. */
        private void respond(int status, HttpHeaders headers, boolean streaming) {
            headers.add("Via", relay.via(false));
            if (loggedInAsUser) {
                // what a user's login shows is theirs: no shared cache may keep it (RFC 9111 §5.2.2.7), whichever way
                // the credentials came (user info in the URL carries no Authorization field for the cache to see)
                headers.add("Cache-Control", "private");
            }
            ResponseHeadImpl head = new ResponseHeadImpl(status, headers);
            CacheWriter writer = null;
            HttpCache cache = relay.config().cache();
            if (cache != null) {
                CacheDecision decision = cache.onUpstreamResponse(x.exchange, x.lookup, head);
                if (decision != null && decision.kind() == CacheDecision.Kind.SERVE) {
                    close();
                    x.moveTo(RelayState.SERVING_CACHED);
                    CachedBodySource.serve(relay, x, decision.response().orElseThrow());
                    return;
                }
                if (decision != null && decision.kind() == CacheDecision.Kind.STORE) {
                    writer = decision.writer().orElseThrow();
                }
            }
            boolean hasBody = !"HEAD".equals(x.exchange.request().method()) && status != 204 && status != 304;
            BodyFilterChain filters;
            try {
                filters = relay.filters().respond(x, head, hasBody);
            } catch (RuntimeException e) {
                if (writer != null) {
                    writer.abort(e);
                }
                close();
                LOG.error("{} failed while preparing the FTP response head", x.exchange.id(), e);
                relay.answers().internalError(x, "response filter failed");
                return;
            }
            body = new BodyRelay(x, this, filters, writer, relay.answers());
            x.moveTo(RelayState.STREAMING_UPSTREAM);
            if (!hasBody) {
                close();
                body.onEnd();
            } else if (streaming) {
                readNext();
            }
        }

        /** Reads one chunk on this thread and hands it to the body relay, or ends the body. */
        private void readNext() {
            if (aborted) {
                return;
            }
            byte[] chunk = new byte[CHUNK];
            int n;
            try {
                n = data.read(chunk);
            } catch (IOException e) {
                transferFailed(e);
                return;
            }
            if (n < 0) {
                boolean complete;
                try {
                    data.close();
                    complete = ftp.completePendingCommand();
                } catch (IOException e) {
                    transferFailed(e);
                    return;
                }
                if (!complete) {
                    transferFailed(new IOException("FTP transfer did not complete: " + reply()));
                    return;
                }
                close();
                body.onEnd();
                return;
            }
            body.onData(ByteBuffer.wrap(chunk, 0, n), null);
        }

        private void transferFailed(Throwable failure) {
            LOG.info("{} FTP transfer from {} broke: {}", x.exchange.id(), host, Failures.describe(failure));
            close();
            BodyRelay b = body;
            if (b != null) {
                b.abortWriter(failure);
            }
            x.failed(failure); // a truncated body is never passed off as complete
        }

        @Override
        public void demand() {
            if (pageSent) {
                pageSent = false;
                body.onEnd();
                return;
            }
            try {
                executor.execute(this::readNext);
            } catch (RejectedExecutionException e) {
                transferFailed(e);
            }
        }

        @Override
        public void abort(Throwable cause) {
            aborted = true;
            try {
                executor.execute(this::close);
            } catch (RejectedExecutionException e) {
                close();
            }
        }

        @Override
        public void lastWritten() {
            if (x.moveFrom(RelayState.STREAMING_UPSTREAM, RelayState.BODY_SENT)) {
                x.succeeded();
            }
        }

        private void fail(int status, String reason, String error) {
            close();
            relay.answers().answer(x, status, reason, error, null, false);
        }

        private String reply() {
            String r = ftp.getReplyString();
            return r == null ? "no reply" : r.trim().replaceAll("[\\r\\n]+", " ");
        }

        private void close() {
            try {
                InputStream in = data;
                if (in != null) {
                    data = null;
                    in.close();
                }
            } catch (IOException e) {
                LOG.debug("closing the FTP data connection: {}", e.toString());
            }
            if (ftp.isConnected()) {
                try {
                    ftp.disconnect();
                } catch (IOException e) {
                    LOG.debug("closing the FTP control connection: {}", e.toString());
                }
            }
        }
    }

    static String decode(String s) {
        try {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return s;
        }
    }

    /** An IMF-fixdate (RFC 9110 §5.6.7), or null. */
    static Instant httpDate(String value) {
        if (value == null) {
            return null;
        }
        try {
            return Instant.from(DateTimeFormatter.RFC_1123_DATE_TIME.parse(value.trim()));
        } catch (java.time.DateTimeException e) {
            return null;
        }
    }

    static String contentType(String path) {
        String name = path.substring(path.lastIndexOf('/') + 1);
        String type = java.net.URLConnection.getFileNameMap().getContentTypeFor(name);
        return type != null ? type : "application/octet-stream";
    }

    /** The listing page: escaped names, links percent-encoded, directories first with a trailing {@code /}. */
    static String html(String path, FTPFile[] files) {
        String title = escape("Index of " + path);
        StringBuilder sb = new StringBuilder(256 + files.length * 96).append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>")
                .append(title).append("</title></head>\n<body><h1>").append(title).append("</h1>\n<ul>\n");
        if (!"/".equals(path) && !path.isEmpty()) {
            sb.append("<li><a href=\"../\">../</a></li>\n");
        }
        int shown = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (FTPFile f : files) {
                if (f == null || f.getName() == null || ".".equals(f.getName()) || "..".equals(f.getName())
                        || f.isDirectory() != (pass == 0)) {
                    continue;
                }
                if (shown++ >= MAX_LISTING) {
                    break;
                }
                String name = f.getName() + (f.isDirectory() ? "/" : "");
                sb.append("<li><a href=\"").append(escape(link(f.getName()) + (f.isDirectory() ? "/" : ""))).append("\">")
                        .append(escape(name)).append("</a>");
                if (!f.isDirectory() && f.getSize() >= 0) {
                    sb.append(' ').append(f.getSize()).append(" bytes");
                }
                if (f.getTimestamp() != null) {
                    sb.append(' ').append(HTTP_DATE.format(f.getTimestamp().toInstant()));
                }
                sb.append("</li>\n");
            }
        }
        if (shown > MAX_LISTING) {
            sb.append("<li>(only the first ").append(MAX_LISTING).append(" entries are shown)</li>\n");
        }
        return sb.append("</ul>\n</body></html>\n").toString();
    }

    private static String link(String name) {
        return URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                case '"' -> sb.append("&quot;");
                case '\'' -> sb.append("&#39;");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }
}
