package gale.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/** What a job maps its function over: JSON values, or newline-delimited JSON streamed from a file or a stream. */
public sealed interface JobInputs {

    /** The inputs, any JSON values; sent as the job's {@code inputs} array. */
    record Values(List<JsonNode> values) implements JobInputs {
        public Values {
            values = List.copyOf(values);
        }
    }

    /** One input per line of a file (blank lines skipped); streamed as the request body, never read into memory. */
    record NdjsonFile(Path file) implements JobInputs {
        public NdjsonFile {
            Objects.requireNonNull(file, "file");
        }
    }

    /** One input per line, read from {@code in} (such as stdin) as the request goes out; the stream is read once. */
    record NdjsonStream(InputStream in) implements JobInputs {
        public NdjsonStream {
            Objects.requireNonNull(in, "in");
        }
    }

    /** Any values Jackson can write as JSON: numbers, strings, maps, lists, records, {@link JsonNode}s; null is JSON null. */
    static JobInputs of(List<?> values) {
        return new Values(values.stream().map(JobInputs::json).toList());
    }

    static JobInputs ndjson(Path file) {
        return new NdjsonFile(file);
    }

    static JobInputs ndjson(InputStream in) {
        return new NdjsonStream(in);
    }

    private static JsonNode json(Object value) {
        if (value == null) return NullNode.getInstance();
        try {
            return ApiJson.MAPPER.valueToTree(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("input " + value.getClass().getName() + " cannot be written as JSON: "
                    + e.getMessage(), e);
        }
    }
}
