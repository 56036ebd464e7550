package gale.store;

import java.time.Instant;
import java.util.OptionalInt;

/** A function as stored: its name and which version serves. */
public record FunctionRow(String name, OptionalInt activeVersion, Instant createdAt, Instant updatedAt) {
}
