/** Example host applications and the {@link io.github.gatehouse.examples.Gatehouse} launcher. */
package io.github.gatehouse.examples;
