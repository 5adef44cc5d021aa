/** Gatehouse's public core API. */
package io.github.gatehouse.core;
