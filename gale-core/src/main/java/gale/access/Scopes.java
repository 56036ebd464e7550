package gale.access;

import gale.registry.FunctionName;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What one access key may do: any of {@code deploy}, {@code logs}, {@code admin}, and
 * {@code invoke:F1,F2} for the functions it may call ({@code invoke:*} for all of them).
 * {@code admin} holds every other scope.
 *
 * @param invoke functions the key may call, sorted; {@link #ANY_FUNCTION} for every function
 */
public record Scopes(boolean admin, boolean deploy, boolean logs, Set<String> invoke) {

    public static final String ANY_FUNCTION = "*";
    public static final String FORMS = "deploy, logs, admin, invoke:FUNCTION[,FUNCTION...] or invoke:*";

    public Scopes {
        invoke = Collections.unmodifiableSortedSet(new TreeSet<>(invoke));
    }

    /**
     * Reads scopes as the CLI and the API take them: each string one scope or several separated by
     * spaces (how the store keeps them). At least one is needed.
     *
     * @throws IllegalArgumentException naming the scope that does not parse and the forms that do
     */
    public static Scopes parse(List<String> given) {
        boolean admin = false;
        boolean deploy = false;
        boolean logs = false;
        Set<String> invoke = new TreeSet<>();
        for (String text : given) {
            if (text == null) throw new IllegalArgumentException("a scope is missing (null); scopes are " + FORMS);
            for (String scope : text.strip().split("\\s+")) {
                if (scope.isEmpty()) continue;
                switch (scope) {
                    case "admin" -> admin = true;
                    case "deploy" -> deploy = true;
                    case "logs" -> logs = true;
                    default -> invoke.addAll(functions(scope));
                }
            }
        }
        if (!admin && !deploy && !logs && invoke.isEmpty()) {
            throw new IllegalArgumentException("a key needs at least one scope: " + FORMS);
        }
        return new Scopes(admin, deploy, logs, invoke);
    }

    private static Set<String> functions(String scope) {
        if (!scope.startsWith("invoke:")) {
            throw new IllegalArgumentException("'" + FunctionName.shown(scope) + "' is not a scope; scopes are " + FORMS);
        }
        Set<String> names = new TreeSet<>();
        for (String name : scope.substring("invoke:".length()).split(",", -1)) {
            if (!name.equals(ANY_FUNCTION) && !FunctionName.isValid(name)) {
                throw new IllegalArgumentException("scope '" + FunctionName.shown(scope) + "' names '" + FunctionName.shown(name)
                        + "', which is not a function name (" + FunctionName.RULE + ") or * for every function");
            }
            names.add(name);
        }
        return names.contains(ANY_FUNCTION) ? Set.of(ANY_FUNCTION) : names;
    }

    /** True when these scopes hold {@code scope} ({@link Scope#INVOKE}: for some function). */
    public boolean allows(Scope scope) {
        return admin || switch (scope) {
            case DEPLOY -> deploy;
            case LOGS -> logs;
            case INVOKE -> !invoke.isEmpty();
            case ADMIN -> false;
        };
    }

    /** True when these scopes may call {@code function}. */
    public boolean mayInvoke(String function) {
        return admin || invoke.contains(ANY_FUNCTION) || invoke.contains(function);
    }

    /** As a user writes them: {@code ["deploy", "invoke:a,b"]}, in a fixed order. */
    public List<String> wire() {
        List<String> out = new ArrayList<>();
        if (admin) out.add("admin");
        if (deploy) out.add("deploy");
        if (!invoke.isEmpty()) out.add("invoke:" + String.join(",", invoke));
        if (logs) out.add("logs");
        return out;
    }

    /** The scopes separated by spaces, as the store keeps them and {@link #parse} reads them back. */
    @Override
    public String toString() {
        return String.join(" ", wire());
    }
}
