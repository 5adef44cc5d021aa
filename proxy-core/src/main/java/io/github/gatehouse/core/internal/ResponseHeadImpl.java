package io.github.gatehouse.core.internal;

import static com.google.common.base.Preconditions.checkArgument;

import io.github.gatehouse.core.HttpHeaders;
import io.github.gatehouse.core.ResponseHead;

/** The mutable response head of one exchange. */
final class ResponseHeadImpl implements ResponseHead {
    private int status;
    private final HttpHeaders headers;

    ResponseHeadImpl(int status, HttpHeaders headers) {
        this.status = status;
        this.headers = headers;
    }

    @Override
    public int status() {
        return status;
    }

    @Override
    public void status(int status) {
        checkArgument(status >= 100 && status <= 599, "status: %s (expected: 100..599)", status);
        this.status = status;
    }

    @Override
    public HttpHeaders headers() {
        return headers;
    }

    @Override
    public String toString() {
        return status + " " + headers;
    }
}
