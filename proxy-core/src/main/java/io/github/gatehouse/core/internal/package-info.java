/** Gatehouse core internals: public for the sibling modules, with no compatibility promise. */
package io.github.gatehouse.core.internal;
