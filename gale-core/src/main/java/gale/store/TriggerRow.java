package gale.store;

import gale.config.TriggerSpec;

import java.time.Instant;

/** A function's subscription to state or blob changes (docs/triggers.md). */
public record TriggerRow(String id, String function, TriggerSpec spec, Instant createdAt) {
}
