package io.github.gatehouse.core.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The test origin behaves like the servers it stands for, faults included. */
class OriginServerTest {

    @Test
    void aStoppedOriginDropsAnUploadInFlightWithoutAnswering() throws Exception {
        OriginServer origin = OriginServer.create("stopping").start();
        try (Socket socket = new Socket("127.0.0.1", origin.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST /upload HTTP/1.1\r\nHost: o\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(10))
                    .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            origin.awaitArrival();

            origin.stop();

            // like a killed process: the connection ends with nothing sent, in particular no "HTTP/1.1 500" error page
            assertThat(readUntilClosed(socket.getInputStream())).isEmpty();
        } finally {
            origin.stop();
        }
    }

    private static String readUntilClosed(InputStream in) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            in.transferTo(bytes);
        } catch (IOException reset) {
            // a reset ends the stream as well
        }
        return bytes.toString(StandardCharsets.ISO_8859_1);
    }
}
