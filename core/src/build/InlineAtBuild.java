import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Build step of plw4j-core (the {@code generate-sources} phase, see core/pom.xml): copies every {@code .java}
 * template under a folder to an output folder, with each call of a method marked {@code // @inline-at-build}
 * replaced by the method's body, and the marked methods left out. Run as a single-file program:
 * {@code java InlineAtBuild.java TEMPLATES OUTPUT}. A file is written only when its content changes; outputs
 * without a template are deleted.
 *
 * <p>What the source of such a helper may be, and the calls that are written out:
 * <ul>
 * <li>A body {@code return E;} alone: every call {@code h(a, b)} becomes {@code E} with the parameters replaced by
 * the arguments (in parentheses where the context needs them).
 * <li>Any other body, at a statement {@code T v = h(a, b);}: the body must be straight-line (declarations and
 * expression statements, no braces) ending in {@code return E;}; the statements before the return are written
 * out, then {@code T v = E;}, or, when {@code E} is a local the body declared with type {@code T}, that local
 * takes the name {@code v} and the return is dropped (no extra variable: the bytecode is that of the code
 * written by hand).
 * <li>Any body at a statement {@code return h(a, b);}: the body, whose returns then return from the caller.
 * </ul>
 * Arguments must be names or literals, so that a parameter replaced in several places evaluates nothing twice;
 * a helper must not assign its parameters. The helper's locals keep their names: the build fails if one of them
 * appears in the calling method, if the caller declares a name that the helper uses (it would capture it), or
 * if a helper is not called, calls itself, or is called in another form. Calls inside helpers are written out
 * first.
 */
public final class InlineAtBuild {
    static final String MARKER = "// @inline-at-build";

    private static final Set<String> KEYWORDS = Set.of("abstract", "assert", "break", "case", "catch", "class",
            "const", "continue", "default", "do", "else", "enum", "extends", "final", "finally", "for", "goto", "if",
            "implements", "import", "instanceof", "interface", "native", "new", "package", "private", "protected",
            "public", "return", "static", "strictfp", "super", "switch", "synchronized", "this", "throw", "throws",
            "transient", "try", "volatile", "while", "true", "false", "null", "var", "yield", "record");
    private static final Set<String> PRIMITIVES = Set.of("boolean", "byte", "char", "short", "int", "long", "float",
            "double", "void");
    private static final String[] OPERATORS = {">>>=", "<<=", "...", "->", "::", "++", "--", "&&", "||", "==", "!=",
        "<=", ">=", "+=", "-=", "*=", "/=", "&=", "|=", "^=", "%=", "<<"};
    private static final Set<String> ASSIGN_OPS = Set.of("=", "+=", "-=", "*=", "/=", "&=", "|=", "^=", "%=", "<<=",
            ">>>=", "++", "--");

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: java InlineAtBuild.java TEMPLATE_DIR OUTPUT_DIR");
            System.exit(2);
        }
        Path in = Path.of(args[0]);
        Path out = Path.of(args[1]);
        List<Path> templates;
        try (Stream<Path> s = Files.walk(in)) {
            templates = s.filter(p -> p.toString().endsWith(".java") && Files.isRegularFile(p)).sorted()
                    .collect(Collectors.toList());
        }
        Set<Path> outputs = new HashSet<>();
        for (Path t : templates) {
            Path rel = in.relativize(t);
            String source = Files.readString(t, StandardCharsets.UTF_8);
            String generated;
            try {
                generated = "// Generated at build time from the template " + in.resolve(rel).toString().replace('\\', '/')
                        + " by\n// src/build/InlineAtBuild.java (the @inline-at-build methods written out at their calls):"
                        + " edit the template.\n" + new Template(source).generate();
            } catch (TemplateError e) {
                System.err.println(t + ":" + lineOf(source, e.pos) + ": error: " + e.getMessage());
                System.exit(1);
                return;
            }
            Path o = out.resolve(rel);
            outputs.add(o.toAbsolutePath().normalize());
            if (!Files.exists(o) || !Files.readString(o, StandardCharsets.UTF_8).equals(generated)) {
                Files.createDirectories(o.getParent());
                Files.writeString(o, generated, StandardCharsets.UTF_8);
                System.out.println("InlineAtBuild: wrote " + o);
            }
        }
        if (Files.isDirectory(out)) {
            List<Path> stale;
            try (Stream<Path> s = Files.walk(out)) {
                stale = s.filter(p -> p.toString().endsWith(".java") && !outputs.contains(p.toAbsolutePath().normalize()))
                        .collect(Collectors.toList());
            }
            for (Path p : stale) {
                Files.delete(p);
                System.out.println("InlineAtBuild: deleted " + p + " (no template)");
            }
        }
    }

    static int lineOf(String s, int pos) {
        int line = 1;
        for (int i = 0; i < Math.min(pos, s.length()); i++) {
            if (s.charAt(i) == '\n') {
                line++;
            }
        }
        return line;
    }

    static final class TemplateError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int pos;

        TemplateError(int pos, String message) {
            super(message);
            this.pos = pos;
        }
    }

    // ---------------------------------------------------------------- tokens

    enum Kind { IDENT, NUMBER, STRING, CHAR, PUNCT, COMMENT, SPACE }

    record Tok(Kind kind, String text, int start, int end) {
        boolean is(String s) {
            return (kind == Kind.PUNCT || kind == Kind.IDENT) && text.equals(s);
        }

        boolean isName() {
            return kind == Kind.IDENT && !KEYWORDS.contains(text) && !PRIMITIVES.contains(text);
        }
    }

    static List<Tok> lex(String s) {
        List<Tok> out = new ArrayList<>();
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            int j = i + 1;
            Kind k;
            if (Character.isWhitespace(c)) {
                while (j < n && Character.isWhitespace(s.charAt(j))) {
                    j++;
                }
                k = Kind.SPACE;
            } else if (s.startsWith("//", i)) {
                while (j < n && s.charAt(j) != '\n') {
                    j++;
                }
                k = Kind.COMMENT;
            } else if (s.startsWith("/*", i)) {
                int e = s.indexOf("*/", i + 2);
                if (e < 0) {
                    throw new TemplateError(i, "unterminated comment");
                }
                j = e + 2;
                k = Kind.COMMENT;
            } else if (s.startsWith("\"\"\"", i)) {
                int e = i + 3;
                while (true) {
                    e = s.indexOf("\"\"\"", e);
                    if (e < 0) {
                        throw new TemplateError(i, "unterminated text block");
                    }
                    if (s.charAt(e - 1) != '\\') {
                        break;
                    }
                    e++;
                }
                j = e + 3;
                k = Kind.STRING;
            } else if (c == '"' || c == '\'') {
                while (j < n && s.charAt(j) != c) {
                    if (s.charAt(j) == '\\') {
                        j++;
                    }
                    if (j < n && s.charAt(j) == '\n') {
                        throw new TemplateError(i, "unterminated literal");
                    }
                    j++;
                }
                j++;
                k = c == '"' ? Kind.STRING : Kind.CHAR;
            } else if (Character.isJavaIdentifierStart(c)) {
                while (j < n && Character.isJavaIdentifierPart(s.charAt(j))) {
                    j++;
                }
                k = Kind.IDENT;
            } else if (Character.isDigit(c) || (c == '.' && i + 1 < n && Character.isDigit(s.charAt(i + 1)))) {
                boolean hex = s.startsWith("0x", i) || s.startsWith("0X", i);
                while (j < n) {
                    char d = s.charAt(j);
                    char prev = s.charAt(j - 1);
                    boolean exponentSign = (d == '+' || d == '-')
                            && (hex ? prev == 'p' || prev == 'P' : prev == 'e' || prev == 'E');
                    if (Character.isLetterOrDigit(d) || d == '_' || d == '.' || exponentSign) {
                        j++;
                    } else {
                        break;
                    }
                }
                k = Kind.NUMBER;
            } else {
                for (String op : OPERATORS) {
                    if (s.startsWith(op, i)) {
                        j = i + op.length();
                        break;
                    }
                }
                k = Kind.PUNCT;
            }
            out.add(new Tok(k, s.substring(i, j), i, j));
            i = j;
        }
        return out;
    }

    /** The tokens of a text without spaces and comments, with the text. */
    static final class Code {
        final String text;
        final List<Tok> all;
        final List<Tok> sig = new ArrayList<>();
        /** index in {@link #sig} of the matching bracket, for ( [ { and ) ] } */
        final int[] match;

        Code(String text) {
            this.text = text;
            this.all = lex(text);
            for (Tok t : all) {
                if (t.kind != Kind.SPACE && t.kind != Kind.COMMENT) {
                    sig.add(t);
                }
            }
            match = new int[sig.size()];
            Deque<Integer> open = new ArrayDeque<>();
            for (int i = 0; i < sig.size(); i++) {
                Tok t = sig.get(i);
                match[i] = -1;
                if (t.is("(") || t.is("[") || t.is("{")) {
                    open.push(i);
                } else if (t.is(")") || t.is("]") || t.is("}")) {
                    if (open.isEmpty()) {
                        throw new TemplateError(t.start, "unbalanced " + t.text);
                    }
                    int o = open.pop();
                    String want = t.is(")") ? "(" : t.is("]") ? "[" : "{";
                    if (!sig.get(o).is(want)) {
                        throw new TemplateError(t.start, "unbalanced " + t.text);
                    }
                    match[o] = i;
                    match[i] = o;
                }
            }
            if (!open.isEmpty()) {
                throw new TemplateError(sig.get(open.peek()).start, "unbalanced " + sig.get(open.peek()).text);
            }
        }

        Tok sig(int i) {
            return i >= 0 && i < sig.size() ? sig.get(i) : new Tok(Kind.PUNCT, "", text.length(), text.length());
        }

        boolean afterDot(int i) {
            return sig(i - 1).is(".");
        }

        int lineStart(int pos) {
            return text.lastIndexOf('\n', pos - 1) + 1;
        }

        /** @return the end of the line holding {@code pos}, past its newline */
        int lineEnd(int pos) {
            int e = text.indexOf('\n', pos);
            return e < 0 ? text.length() : e + 1;
        }

        /** @return the indentation of the line of {@code t}; fails unless {@code t} is the first token of its line */
        String indentOf(Tok t, String what) {
            int ls = lineStart(t.start);
            String before = text.substring(ls, t.start);
            if (!before.isBlank()) {
                throw new TemplateError(t.start, what + " must begin its line");
            }
            return before;
        }

        /** Names used (not after a dot) among sig[from, to). */
        Set<String> names(int from, int to) {
            Set<String> s = new TreeSet<>();
            for (int i = from; i < to; i++) {
                if (sig(i).isName() && !afterDot(i)) {
                    s.add(sig(i).text);
                }
            }
            return s;
        }

        /** Names declared among sig[from, to): {@code Type name} followed by = ; , : or ) (an over-estimate). */
        Set<String> declared(int from, int to) {
            Set<String> s = new TreeSet<>();
            for (int i = from; i < to; i++) {
                Tok prev = sig(i - 1);
                Tok next = sig(i + 1);
                boolean typeBefore = (prev.kind == Kind.IDENT && !KEYWORDS.contains(prev.text)) || prev.is(">")
                        || prev.is("]");
                if (sig(i).isName() && i - 1 >= from && typeBefore && (next.is("=") || next.is(";") || next.is(",")
                        || next.is(":") || next.is(")"))) {
                    s.add(sig(i).text);
                }
            }
            return s;
        }
    }

    // ---------------------------------------------------------------- helpers

    static final class Helper {
        final String name;
        final String returnType;
        final List<String> params = new ArrayList<>();
        final int declStart;   // text range of the declaration with its comments, whole lines
        final int declEnd;
        final int namePos;
        /** the body between the braces, helper calls written out */
        String body;
        final Set<String> calls = new TreeSet<>();
        boolean used;

        Helper(Code c, int firstSig, int declStart) {
            this.declStart = declStart;
            int i = firstSig;
            while (c.sig(i).is("private") || c.sig(i).is("static") || c.sig(i).is("final")) {
                i++;
            }
            int open = i;
            while (open < c.sig.size() && !c.sig(open).is("(")) {
                if (c.sig(open).is("{") || c.sig(open).is(";") || c.sig(open).is("=")) {
                    throw new TemplateError(c.sig(firstSig).start, MARKER + " must precede a method");
                }
                open++;
            }
            Tok nameTok = c.sig(open - 1);
            if (!nameTok.isName() || open - 1 <= i) {
                throw new TemplateError(c.sig(firstSig).start, MARKER + " must precede a method");
            }
            this.name = nameTok.text;
            this.namePos = nameTok.start;
            this.returnType = c.text.substring(c.sig(i).start, c.sig(open - 2).end);
            if (returnType.equals("void")) {
                throw new TemplateError(namePos, "an " + MARKER + " method must return a value: " + name);
            }
            int close = c.match[open];
            int p = open + 1;
            while (p < close) {
                int q = p;
                int depth = 0;
                while (q < close && !(depth == 0 && c.sig(q).is(","))) {
                    depth += c.sig(q).is("<") ? 1 : c.sig(q).is(">") ? -1 : 0;
                    q++;
                }
                if (!c.sig(q - 1).isName() || q - 1 <= p) {
                    throw new TemplateError(c.sig(p).start, "parameter of " + name + " not understood");
                }
                params.add(c.sig(q - 1).text);
                p = q + 1;
            }
            if (!c.sig(close + 1).is("{")) {
                throw new TemplateError(c.sig(close + 1).start, name + ": the body must follow the parameters");
            }
            int bodyOpen = close + 1;
            int bodyClose = c.match[bodyOpen];
            this.body = c.text.substring(c.sig(bodyOpen).end, c.sig(bodyClose).start);
            int end = c.lineEnd(c.sig(bodyClose).start);
            if (!c.text.substring(c.sig(bodyClose).end, end).isBlank()) {
                throw new TemplateError(c.sig(bodyClose).start, name + ": nothing may follow the closing brace on its line");
            }
            // a blank line before and after: drop the one after
            boolean blankBefore = declStart >= 2 && c.text.charAt(declStart - 1) == '\n'
                    && c.text.substring(c.lineStart(declStart - 1), declStart - 1).isBlank();
            int afterEnd = c.lineEnd(end);
            if (blankBefore && end < c.text.length() && c.text.substring(end, afterEnd).isBlank()) {
                end = afterEnd;
            }
            this.declEnd = end;
        }

        Code bodyCode() {
            return new Code(body);
        }

        /** @return the expression of a body {@code return E;}, null for other bodies */
        String expression() {
            Code b = bodyCode();
            if (b.sig.size() >= 3 && b.sig(0).is("return") && b.sig(b.sig.size() - 1).is(";")
                    && count(b, ";") == 1) {
                for (Tok t : b.all) {
                    if (t.kind == Kind.COMMENT && t.text.startsWith("//")) {
                        throw new TemplateError(namePos, name + ": no line comment inside a return expression");
                    }
                }
                return b.text.substring(b.sig(1).start, b.sig(b.sig.size() - 2).end);
            }
            return null;
        }

        static int count(Code b, String s) {
            int k = 0;
            for (Tok t : b.sig) {
                k += t.is(s) ? 1 : 0;
            }
            return k;
        }
    }

    static final class Template {
        final Code code;
        final Map<String, Helper> helpers = new LinkedHashMap<>();

        Template(String source) {
            this.code = new Code(source);
            findHelpers();
        }

        private void findHelpers() {
            List<Tok> all = code.all;
            for (int a = 0; a < all.size(); a++) {
                Tok t = all.get(a);
                if (t.kind != Kind.COMMENT || !t.text.strip().equals(MARKER)) {
                    continue;
                }
                // the comment block around the marker: comments separated by at most one newline
                int first = a;
                while (first - 2 >= 0 && all.get(first - 1).kind == Kind.SPACE && newlines(all.get(first - 1)) <= 1
                        && all.get(first - 2).kind == Kind.COMMENT) {
                    first -= 2;
                }
                int next = a + 1;
                while (next < all.size() && (all.get(next).kind == Kind.SPACE || all.get(next).kind == Kind.COMMENT)) {
                    if (all.get(next).kind == Kind.SPACE && newlines(all.get(next)) > 1) {
                        throw new TemplateError(t.start, MARKER + " must stand right before its method");
                    }
                    next++;
                }
                int firstSig = code.sig.indexOf(all.get(next));
                int declStart = code.lineStart(all.get(first).start);
                Helper h = new Helper(code, firstSig, declStart);
                if (helpers.put(h.name, h) != null) {
                    throw new TemplateError(h.namePos, "two " + MARKER + " methods named " + h.name);
                }
            }
            if (code.text.contains("@inline-at-build") && helpers.isEmpty()) {
                throw new TemplateError(code.text.indexOf("@inline-at-build"), "marker not on a line of its own: " + MARKER);
            }
        }

        static int newlines(Tok t) {
            return (int) t.text.chars().filter(ch -> ch == '\n').count();
        }

        String generate() {
            // helpers' own calls first, callees before callers
            for (Helper h : helpers.values()) {
                Code b = h.bodyCode();
                for (int i = 0; i < b.sig.size(); i++) {
                    if (isCall(b, i)) {
                        h.calls.add(b.sig(i).text);
                    }
                }
                checkNoParameterAssigned(h, b);
            }
            List<Helper> order = new ArrayList<>();
            Set<String> done = new HashSet<>();
            for (Helper h : helpers.values()) {
                visit(h, done, new HashSet<>(), order);
            }
            for (Helper h : order) {
                Code b = h.bodyCode();
                Set<String> names = b.names(0, b.sig.size());
                names.addAll(h.params);
                Set<String> declared = b.declared(0, b.sig.size());
                declared.addAll(h.params);
                Member m = new Member(names, declared, h.name);
                h.body = apply(b, calls(b, 0, b.sig.size(), i -> m));
            }
            // the calls in the rest of the file, the helpers left out
            List<int[]> skip = new ArrayList<>();
            for (Helper h : helpers.values()) {
                skip.add(new int[] {h.declStart, h.declEnd});
            }
            List<Edit> edits = new ArrayList<>();
            Map<Integer, Member> members = members();
            for (int i = 0; i < code.sig.size(); i++) {
                int pos = code.sig(i).start;
                if (skip.stream().anyMatch(r -> pos >= r[0] && pos < r[1])) {
                    continue;
                }
                if (isCall(code, i)) {
                    Member m = members.get(i);
                    if (m == null) {
                        throw new TemplateError(pos, "a call of " + code.sig(i).text + " outside a method");
                    }
                    edits.add(callEdit(code, i, m));
                }
            }
            for (Helper h : helpers.values()) {
                if (!h.used) {
                    throw new TemplateError(h.namePos, MARKER + " method " + h.name + " is not called");
                }
                edits.add(new Edit(h.declStart, h.declEnd, ""));
            }
            String out = apply(code, edits);
            Code check = new Code(out);
            for (int i = 0; i < check.sig.size(); i++) {
                if (isCall(check, i)) {
                    throw new TemplateError(0, "internal: a call of " + check.sig(i).text + " is left");
                }
            }
            return out;
        }

        private void visit(Helper h, Set<String> done, Set<String> path, List<Helper> order) {
            if (done.contains(h.name)) {
                return;
            }
            if (!path.add(h.name)) {
                throw new TemplateError(h.namePos, MARKER + " methods call each other in a cycle: " + path);
            }
            for (String c : h.calls) {
                visit(helpers.get(c), done, path, order);
            }
            path.remove(h.name);
            done.add(h.name);
            order.add(h);
        }

        private static void checkNoParameterAssigned(Helper h, Code b) {
            for (int i = 0; i < b.sig.size(); i++) {
                Tok t = b.sig(i);
                if (t.isName() && !b.afterDot(i) && h.params.contains(t.text)
                        && (ASSIGN_OPS.contains(b.sig(i + 1).text) || b.sig(i - 1).is("++") || b.sig(i - 1).is("--"))) {
                    throw new TemplateError(h.namePos, h.name + " assigns its parameter " + t.text);
                }
            }
        }

        boolean isCall(Code c, int i) {
            Tok t = c.sig(i);
            return t.kind == Kind.IDENT && helpers.containsKey(t.text) && c.sig(i + 1).is("(") && !c.afterDot(i)
                    && !(c.sig(i - 1).kind == Kind.IDENT && !c.sig(i - 1).is("return"))   // a declaration
                    && !c.sig(i - 1).is(">") && !c.sig(i - 1).is("]");
        }

        /** The names used and declared by the method (header and body) around each significant token. */
        private Map<Integer, Member> members() {
            Map<Integer, Member> out = new HashMap<>();
            // kinds of the open braces: class bodies, and the members directly inside them
            boolean[] classBody = new boolean[code.sig.size()];
            Deque<Integer> open = new ArrayDeque<>();
            int stmtStart = 0;
            for (int i = 0; i < code.sig.size(); i++) {
                Tok t = code.sig(i);
                if (t.is("{")) {
                    boolean isClass = false;
                    for (int j = stmtStart; j < i; j++) {
                        Tok u = code.sig(j);
                        if ((u.is("class") || u.is("interface") || u.is("enum") || u.is("record")) && !code.afterDot(j)) {
                            isClass = true;
                        }
                    }
                    if (code.sig(i - 1).is(")") && code.sig(code.match[i - 1] - 2).is("new")) {
                        isClass = true;   // an anonymous class
                    }
                    classBody[i] = isClass;
                    if (!isClass && !open.isEmpty() && classBody[open.peek()]) {
                        int close = code.match[i];
                        Member m = new Member(code.names(stmtStart, close), code.declared(stmtStart, close),
                                "the method at line " + lineOf(code.text, code.sig(stmtStart).start));
                        for (int j = i; j <= close; j++) {
                            out.put(j, m);
                        }
                    }
                    open.push(i);
                    stmtStart = i + 1;
                } else if (t.is("}")) {
                    open.pop();
                    stmtStart = i + 1;
                } else if (t.is(";")) {
                    stmtStart = i + 1;
                }
            }
            return out;
        }

        /** The edits writing out the calls among b.sig[from, to). */
        private List<Edit> calls(Code b, int from, int to, java.util.function.IntFunction<Member> memberOf) {
            List<Edit> edits = new ArrayList<>();
            for (int i = from; i < to; i++) {
                if (isCall(b, i)) {
                    edits.add(callEdit(b, i, memberOf.apply(i)));
                }
            }
            return edits;
        }

        private Edit callEdit(Code c, int i, Member m) {
            Helper h = helpers.get(c.sig(i).text);
            h.used = true;
            int close = c.match[i + 1];
            List<String> args = new ArrayList<>();
            int p = i + 2;
            while (p < close) {
                Tok a = c.sig(p);
                boolean simple = a.isName() || a.kind == Kind.NUMBER || a.kind == Kind.STRING || a.kind == Kind.CHAR
                        || a.is("true") || a.is("false") || a.is("null");
                if (!simple || !(c.sig(p + 1).is(",") || p + 1 == close)) {
                    throw new TemplateError(a.start, "the arguments of " + h.name + " must be names or literals");
                }
                args.add(a.text);
                p += 2;
            }
            if (args.size() != h.params.size()) {
                throw new TemplateError(c.sig(i).start, h.name + " takes " + h.params.size() + " arguments");
            }
            Map<String, String> subst = new HashMap<>();
            for (int k = 0; k < args.size(); k++) {
                subst.put(h.params.get(k), args.get(k));
            }
            Code b = h.bodyCode();
            String expr = h.expression();
            if (expr != null) {
                Code e = new Code(expr);
                String text = substitute(e, subst, true);
                Tok prev = c.sig(i - 1);
                Tok next = c.sig(close + 1);
                boolean delimited = (prev.is("(") || prev.is(",") || prev.is("=") || prev.is("return"))
                        && (next.is(")") || next.is(",") || next.is(";"));
                if (!delimited && !primaryChain(e)) {
                    text = "(" + text + ")";
                }
                checkNames(h, b, m, Set.of(), c.sig(i).start);
                return new Edit(c.sig(i).start, c.sig(close).end, text);
            }
            if (!c.sig(close + 1).is(";")) {
                throw new TemplateError(c.sig(i).start, h.name + " must be called as a statement `T v = "
                        + h.name + "(...);` or `return " + h.name + "(...);`");
            }
            int stmtEnd = c.sig(close + 1).end;
            if (c.sig(i - 1).is("return")) {
                Tok ret = c.sig(i - 1);
                String indent = c.indentOf(ret, "return " + h.name + "(...)");
                checkNames(h, b, m, Set.of(), ret.start);
                return new Edit(c.lineStart(ret.start), stmtEnd, reindent(substitute(b, subst, false), indent));
            }
            // T v = h(args);
            if (!c.sig(i - 1).is("=") || !c.sig(i - 2).isName()) {
                throw new TemplateError(c.sig(i).start, h.name + " must be called as a statement `T v = "
                        + h.name + "(...);` or `return " + h.name + "(...);`");
            }
            String v = c.sig(i - 2).text;
            int typeStart = i - 3;
            while (typeStart > 0 && !(c.sig(typeStart - 1).is(";") || c.sig(typeStart - 1).is("{")
                    || c.sig(typeStart - 1).is("}"))) {
                typeStart--;
            }
            if (typeStart > i - 3) {
                throw new TemplateError(c.sig(i).start, h.name + " must be called as a statement `T v = "
                        + h.name + "(...);` or `return " + h.name + "(...);`");
            }
            String type = c.text.substring(c.sig(typeStart).start, c.sig(i - 3).end);
            if (c.sig(typeStart).is("final")) {
                throw new TemplateError(c.sig(i).start, "no modifiers on the variable of a call of " + h.name);
            }
            String indent = c.indentOf(c.sig(typeStart), "the statement calling " + h.name);
            // straight-line: no braces, one return, last
            for (Tok t : b.sig) {
                if (t.is("{") || t.is("}")) {
                    throw new TemplateError(h.namePos, h.name + " has blocks: call it as `return " + h.name + "(...);`");
                }
            }
            int ret = -1;
            for (int k = 0; k < b.sig.size(); k++) {
                if (b.sig(k).is("return")) {
                    if (ret >= 0) {
                        throw new TemplateError(h.namePos, h.name + " has more than one return");
                    }
                    ret = k;
                }
            }
            if (ret < 0 || !b.sig(b.sig.size() - 1).is(";") || Helper.count(new Code(
                    b.text.substring(b.sig(ret).start)), ";") != 1) {
                throw new TemplateError(h.namePos, h.name + " must end in its only return");
            }
            int retLine = b.lineStart(b.sig(ret).start);
            if (!b.text.substring(retLine, b.sig(ret).start).isBlank()) {
                throw new TemplateError(h.namePos, h.name + ": the return must begin its line");
            }
            String value = b.text.substring(b.sig(ret + 1).start, b.sig(b.sig.size() - 2).end);
            String renamed = null;
            if (ret + 2 == b.sig.size() - 1 && b.sig(ret + 1).isName()) {
                String local = b.sig(ret + 1).text;
                // its declaration: `type local =` at a statement start, type as at the call
                for (int k = 0; k < ret; k++) {
                    if (b.sig(k).is(local) && b.sig(k + 1).is("=") && !b.afterDot(k)) {
                        int ts = k - 1;
                        while (ts > 0 && !b.sig(ts - 1).is(";")) {
                            ts--;
                        }
                        if (ts < k && b.text.substring(b.sig(ts).start, b.sig(k - 1).end).equals(type)) {
                            renamed = local;
                        }
                        break;
                    }
                }
            }
            Set<String> exclude = renamed == null ? Set.of() : Set.of(renamed);
            checkNames(h, b, m, exclude, c.sig(i).start);
            Set<String> helperNames = b.names(0, b.sig.size());
            if (helperNames.contains(v) && !v.equals(renamed)) {
                throw new TemplateError(c.sig(i).start, "the variable " + v + " is a name that " + h.name + " uses");
            }
            Map<String, String> s2 = new HashMap<>(subst);
            if (renamed != null) {
                s2.put(renamed, v);
            }
            Code statements = new Code(b.text.substring(0, retLine));
            String out = reindent(substitute(statements, s2, false), indent);
            if (renamed == null) {
                out = out + (out.isEmpty() ? "" : "\n") + indent + type + " " + v + " = "
                        + substitute(new Code(value), subst, true) + ";";
            }
            return new Edit(c.lineStart(c.sig(typeStart).start), stmtEnd, out);
        }

        /** Fails where the helper's locals would meet the caller's names. */
        private static void checkNames(Helper h, Code b, Member m, Set<String> exclude, int pos) {
            Set<String> locals = b.declared(0, b.sig.size());
            for (String l : locals) {
                if (!exclude.contains(l) && m.names.contains(l)) {
                    throw new TemplateError(pos, "the local " + l + " of " + h.name + " is a name of " + m.what
                            + ": rename one of them");
                }
            }
            Set<String> free = b.names(0, b.sig.size());
            free.removeAll(locals);
            free.removeAll(h.params);
            for (String f : free) {
                if (m.declared.contains(f)) {
                    throw new TemplateError(pos, h.name + " uses " + f + ", which " + m.what + " declares: rename it");
                }
            }
        }

        /** The text of {@code c} with the names of {@code subst} replaced (not after a dot); joined on one line if asked. */
        private static String substitute(Code c, Map<String, String> subst, boolean oneLine) {
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < c.all.size(); k++) {
                Tok t = c.all.get(k);
                if (t.kind == Kind.SPACE) {
                    boolean beforeDot = k + 1 < c.all.size() && c.all.get(k + 1).text.equals(".");
                    sb.append(oneLine && t.text.contains("\n") ? (beforeDot ? "" : " ") : t.text);
                    continue;
                }
                if (t.kind != Kind.COMMENT) {
                    int i = c.sig.indexOf(t);
                    if (t.isName() && !c.afterDot(i) && subst.containsKey(t.text)) {
                        sb.append(subst.get(t.text));
                        continue;
                    }
                }
                sb.append(t.text);
            }
            return oneLine ? sb.toString().strip() : sb.toString();
        }

        /** Lines of a body (first and last blank lines dropped), its own indentation replaced by {@code indent}. */
        private static String reindent(String body, String indent) {
            List<String> lines = new ArrayList<>(List.of(body.split("\n", -1)));
            while (!lines.isEmpty() && lines.get(0).isBlank()) {
                lines.remove(0);
            }
            while (!lines.isEmpty() && lines.get(lines.size() - 1).isBlank()) {
                lines.remove(lines.size() - 1);
            }
            if (lines.isEmpty()) {
                return "";
            }
            String base = lines.get(0).substring(0, lines.get(0).length() - lines.get(0).stripLeading().length());
            StringBuilder sb = new StringBuilder();
            for (String l : lines) {
                if (sb.length() > 0) {
                    sb.append('\n');
                }
                if (l.isBlank()) {
                    continue;
                }
                if (!l.startsWith(base)) {
                    throw new TemplateError(0, "a body line is indented less than its first line: " + l.strip());
                }
                sb.append(indent).append(l.substring(base.length()));
            }
            return sb.toString();
        }

        /** Names, literals, dots and bracketed groups only, no cast: needs no parentheses anywhere. */
        private static boolean primaryChain(Code e) {
            for (int i = 0; i < e.sig.size(); i++) {
                Tok t = e.sig(i);
                if (t.is("(") || t.is("[")) {
                    if (!(i > 0 && (e.sig(i - 1).kind == Kind.IDENT || e.sig(i - 1).is(")") || e.sig(i - 1).is("]")))) {
                        return false;   // in parentheses, or a cast
                    }
                    i = e.match[i];
                } else if (!(t.kind == Kind.IDENT || t.kind == Kind.NUMBER || t.kind == Kind.STRING
                        || t.kind == Kind.CHAR || t.is("."))) {
                    return false;
                }
            }
            return true;
        }
    }

    record Member(Set<String> names, Set<String> declared, String what) {
    }

    record Edit(int start, int end, String text) {
    }

    /** The text with the edits applied (they must not overlap). */
    static String apply(Code c, List<Edit> edits) {
        List<Edit> all = new ArrayList<>(edits);
        all.sort((a, b) -> Integer.compare(a.start, b.start));
        StringBuilder sb = new StringBuilder();
        int at = 0;
        for (Edit e : all) {
            if (e.start < at) {
                throw new TemplateError(e.start, "internal: overlapping edits");
            }
            sb.append(c.text, at, e.start).append(e.text);
            at = e.end;
        }
        sb.append(c.text.substring(at));
        return sb.toString();
    }
}
