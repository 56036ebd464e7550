package gale.api.internal;

import gale.api.HttpFunction;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.jar.JarFile;

/**
 * Finds the entry-point class on the classpath and makes the one function object of this
 * instance. Every way that can fail becomes a {@link LoadFailure} that tells the user what to fix.
 */
final class FunctionLoader {

    private static final int MAX_SUGGESTIONS = 3;

    private final ClassLoader loader;
    private final List<Path> classpath;

    FunctionLoader(ClassLoader loader, List<Path> classpath) {
        this.loader = loader;
        this.classpath = classpath;
    }

    /** The JVM's own classpath, as Gale set it with -cp. */
    static FunctionLoader forSystemClasspath() {
        List<Path> entries = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            if (!entry.isEmpty()) entries.add(Path.of(entry));
        }
        return new FunctionLoader(ClassLoader.getSystemClassLoader(), entries);
    }

    HttpFunction load(String className) throws LoadFailure.Exception {
        try {
            return instantiate(className);
        } catch (NoClassDefFoundError e) { // linking the class needed a library that is not there
            throw missingDependency(className, e);
        } catch (LinkageError | RuntimeException e) {
            throw failure(new LoadFailure("error", "cannot load " + className + ": " + Errors.describe(e), Errors.stackTrace(e)));
        }
    }

    private HttpFunction instantiate(String className) throws LoadFailure.Exception {
        Class<?> type = find(className);
        Constructor<?> constructor = check(type);
        try {
            return (HttpFunction) constructor.newInstance();
        } catch (InvocationTargetException e) {
            throw thrownByUserCode(className, "its constructor", e.getCause());
        } catch (ExceptionInInitializerError e) {
            throw thrownByUserCode(className, "its static initialiser", e.getCause());
        } catch (ReflectiveOperationException e) {
            throw failure(LoadFailure.entryPoint("cannot create " + className + ": " + e));
        }
    }

    private Class<?> find(String className) throws LoadFailure.Exception {
        try {
            return Class.forName(className, false, loader);
        } catch (ClassNotFoundException e) {
            throw failure(LoadFailure.entryPoint("class " + className + " not found in " + describeClasspath() + suggestions(className)));
        } catch (UnsupportedClassVersionError e) {
            throw failure(new LoadFailure("error", "class " + className + " was compiled for a newer Java than the "
                    + "instances run (Java " + Runtime.version().feature() + "): " + e.getMessage()
                    + "; compile with --release " + Runtime.version().feature() + " or lower", ""));
        } catch (NoClassDefFoundError e) {
            throw missingDependency(className, e);
        }
    }

    private static Constructor<?> check(Class<?> type) throws LoadFailure.Exception {
        String name = type.getName();
        if (!HttpFunction.class.isAssignableFrom(type)) {
            throw failure(LoadFailure.entryPoint("class " + name + " does not implement gale.api.HttpFunction; "
                    + "declare it as `public class " + type.getSimpleName() + " implements HttpFunction` with a "
                    + "method `public void handle(Request req, Response res)`"));
        }
        if (type.isInterface() || Modifier.isAbstract(type.getModifiers())) {
            throw failure(LoadFailure.entryPoint("class " + name + " is abstract; name a concrete class as the entry point"));
        }
        if (!Modifier.isPublic(type.getModifiers())) {
            throw failure(LoadFailure.entryPoint("class " + name + " is not public; declare it `public class`"));
        }
        if (type.getEnclosingClass() != null && !Modifier.isStatic(type.getModifiers())) {
            throw failure(LoadFailure.entryPoint("class " + name + " is an inner class; make it `public static`"));
        }
        try {
            return type.getConstructor();
        } catch (NoSuchMethodException e) {
            throw failure(LoadFailure.entryPoint("class " + name + " has no public no-argument constructor; "
                    + "Gale creates the function with `new " + type.getSimpleName() + "()`"));
        }
    }

    private static LoadFailure.Exception thrownByUserCode(String className, String where, Throwable cause) {
        if (cause instanceof NoClassDefFoundError missing) return missingDependency(className, missing);
        return failure(new LoadFailure("error", className + " failed in " + where + ": " + Errors.describe(cause),
                Errors.stackTrace(cause)));
    }

    private static LoadFailure.Exception missingDependency(String className, NoClassDefFoundError e) {
        String missing = e.getMessage() == null ? "a class" : e.getMessage().replace('/', '.');
        return failure(new LoadFailure("dependency", className + " needs " + missing + ", which is not on the classpath; "
                + "put the library's jar in the bundle's lib/ folder, or add it to pom.xml", Errors.stackTrace(e)));
    }

    private static LoadFailure.Exception failure(LoadFailure failure) {
        return new LoadFailure.Exception(failure);
    }

    /** The function's own classpath entries (gale-api is Gale's, not the user's). */
    private List<Path> userEntries() {
        return classpath.stream().filter(p -> !p.getFileName().toString().startsWith("gale-api")).toList();
    }

    private String describeClasspath() {
        List<String> names = userEntries().stream().map(p -> p.getFileName().toString()).toList();
        if (names.isEmpty()) return "the bundle (it has no jars)";
        if (names.size() > 5) return names.subList(0, 5) + " and " + (names.size() - 5) + " more jars";
        return String.join(", ", names);
    }

    /** Classes in the function's jars with the same simple name, ignoring case: the likely typo. */
    private String suggestions(String className) {
        String simple = className.substring(className.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
        List<String> found = new ArrayList<>();
        for (Path jar : userEntries()) {
            if (!jar.toString().endsWith(".jar")) continue;
            try (JarFile file = new JarFile(jar.toFile())) {
                file.stream().map(e -> e.getName())
                        .filter(n -> n.endsWith(".class") && !n.contains("$") && !n.startsWith("META-INF/"))
                        .map(n -> n.substring(0, n.length() - 6).replace('/', '.'))
                        .filter(n -> n.substring(n.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT).equals(simple))
                        .limit(MAX_SUGGESTIONS - found.size())
                        .forEach(found::add);
            } catch (IOException unreadable) {
                // not a jar we can list; no suggestion from it
            }
            if (found.size() >= MAX_SUGGESTIONS) break;
        }
        return found.isEmpty() ? "; check the package and class name (--entry-point com.example.Hello)"
                : "; did you mean " + String.join(" or ", found) + "?";
    }
}
