/** Implementation of proxy-filter: matchers, decoders, hashes. Public for tests and siblings, no compatibility promise. */
package io.github.gatehouse.filter.internal;
