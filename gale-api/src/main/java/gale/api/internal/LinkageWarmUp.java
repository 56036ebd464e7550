package gale.api.internal;

import java.lang.invoke.CallSite;
import java.lang.invoke.LambdaMetafactory;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.StringConcatFactory;
import java.util.function.Supplier;

/**
 * Links the JDK's invokedynamic machinery the way user code first uses it: string concatenation
 * and lambdas. The first {@code a + " " + b} in a JVM costs 10-40 ms here (StringConcatFactory
 * loads its classes and spins hidden classes), and the class-data archive cannot hold the
 * user's call sites, whose methods the training run never calls. A spare JVM, which has the
 * time, does this before READY (GALE_WARM_UP=1), so the call that takes it does not; a JVM
 * started for a waiting call does not, since its call would wait for it.
 */
final class LinkageWarmUp {

    /** Recipes of the shapes handlers write most: text and a value, a few values, text around values. */
    private static final String[] RECIPES = {"\u0001 \u0001", "\u0001\u0001\u0001", "Hello, \u0001!"};

    private LinkageWarmUp() {
    }

    /** Returns what it made, so nothing is optimised away; throws nothing a start should fail on. */
    static int run() {
        int made = 0;
        try {
            var lookup = MethodHandles.lookup();
            MethodType[] types = {
                    MethodType.methodType(String.class, String.class, int.class),
                    MethodType.methodType(String.class, String.class, long.class, Object.class),
                    MethodType.methodType(String.class, String.class)};
            Object[][] arguments = {{"GET", 1}, {"/", 2L, "x"}, {"world"}};
            for (int i = 0; i < RECIPES.length; i++) {
                CallSite site = StringConcatFactory.makeConcatWithConstants(lookup, "concat", types[i], RECIPES[i]);
                made += ((String) site.dynamicInvoker().invokeWithArguments(arguments[i])).length();
            }
            CallSite lambda = LambdaMetafactory.metafactory(lookup, "get", MethodType.methodType(Supplier.class),
                    MethodType.methodType(Object.class), lookup.findStatic(LinkageWarmUp.class, "answer", MethodType.methodType(String.class)),
                    MethodType.methodType(String.class));
            @SuppressWarnings("unchecked")
            Supplier<String> supplier = (Supplier<String>) lambda.getTarget().invoke();
            made += supplier.get().length();
        } catch (Throwable notLinked) { // a warm-up that fails only leaves the first call slower
            return made;
        }
        return made;
    }

    private static String answer() {
        return "warm";
    }
}
