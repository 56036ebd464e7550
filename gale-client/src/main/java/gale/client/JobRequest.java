package gale.client;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FileNotFoundException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.net.http.HttpRequest.BodyPublisher;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A map job to submit: run {@code function} over {@code inputs} with {@code options}. This is the one
 * place that turns a job into {@code POST /v1/jobs}: a JSON body for values, NDJSON with the options as
 * query parameters for files and streams.
 */
public record JobRequest(String function, JobInputs inputs, JobOptions options) {

    static final String NDJSON = "application/x-ndjson";

    public JobRequest {
        Objects.requireNonNull(function, "function");
        Objects.requireNonNull(inputs, "inputs");
        Objects.requireNonNull(options, "options");
        if (function.isBlank()) throw new IllegalArgumentException("a job needs the name of a deployed function");
    }

    /** Maps {@code function} over these values (anything Jackson writes as JSON), with default options. */
    public static JobRequest of(String function, List<?> inputs) {
        return new JobRequest(function, JobInputs.of(inputs), JobOptions.defaults());
    }

    /** Maps {@code function} over the lines of an NDJSON file, with default options. */
    public static JobRequest ndjson(String function, Path file) {
        return new JobRequest(function, JobInputs.ndjson(file), JobOptions.defaults());
    }

    public JobRequest with(JobOptions options) {
        return new JobRequest(function, inputs, options);
    }

    /** {@code /v1/jobs}, with the function and options as query parameters when the body is NDJSON. */
    String pathAndQuery() {
        if (inputs instanceof JobInputs.Values) return "/v1/jobs";
        String options = this.options.fields().entrySet().stream()
                .map(e -> e.getKey() + "=" + URLEncoder.encode(queryValue(e.getValue()), UTF_8))
                .map(pair -> "&" + pair)
                .collect(Collectors.joining());
        return "/v1/jobs?function=" + URLEncoder.encode(function, UTF_8) + options;
    }

    String contentType() {
        return inputs instanceof JobInputs.Values ? "application/json" : NDJSON;
    }

    BodyPublisher body() {
        return switch (inputs) {
            case JobInputs.Values values -> BodyPublishers.ofByteArray(ApiJson.write(json(values.values())));
            case JobInputs.NdjsonFile file -> ofFile(file.file());
            case JobInputs.NdjsonStream stream -> BodyPublishers.ofInputStream(stream::in);
        };
    }

    private ObjectNode json(List<JsonNode> values) {
        ObjectNode job = ApiJson.MAPPER.createObjectNode().put("function", function);
        ArrayNode array = job.putArray("inputs");
        values.forEach(array::add);
        options.fields().forEach((key, value) -> job.set(key, ApiJson.MAPPER.valueToTree(value)));
        return job;
    }

    /** JSON values (the context) go as their JSON text, everything else as written. */
    private static String queryValue(Object value) {
        return value instanceof JsonNode json ? json.toString() : String.valueOf(value);
    }

    private BodyPublisher ofFile(Path file) {
        try {
            return BodyPublishers.ofFile(file);
        } catch (FileNotFoundException e) {
            throw new UncheckedIOException("cannot read the inputs of " + function + " from " + file.toAbsolutePath(), e);
        }
    }
}
