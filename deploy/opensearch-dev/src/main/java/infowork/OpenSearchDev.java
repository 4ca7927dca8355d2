package infowork;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * Starts one real OpenSearch node (server jar from Maven Central) with the stock modules that
 * infowork needs loaded as classpath plugins. No Bootstrap: no security manager, no bootstrap
 * checks, no refusal to run as root, no native (JNA) calls.
 *
 * <pre>
 *   java -cp 'target/classes:target/lib/*' infowork.OpenSearchDev [options]
 *     --nodes N               nodes in the cluster (default 1; 1 means discovery.type=single-node)
 *     --node-index I          which node of the cluster this JVM runs (default 0)
 *     --base-http-port P      node I listens for HTTP on P+I (default 9200)
 *     --base-transport-port T node I listens for transport on T+I (default 9300)
 *     --data DIR              node I keeps its home (data, logs) in DIR/node-I (default .data/opensearch)
 *     --cluster-name NAME     default infowork-dev
 *     --ready-timeout SECS    default 120
 *     --pid-file FILE         write this JVM's pid there (removed on clean shutdown)
 *     --setting key=value     extra node setting, repeatable
 * </pre>
 *
 * Prints "OPENSEARCH READY http://127.0.0.1:P+I" once the node answers
 * _cluster/health?wait_for_status=yellow, and closes the node cleanly on SIGTERM/SIGINT.
 */
public final class OpenSearchDev {

    /** The modules a stock distribution ships that infowork relies on. */
    private static final List<Class<? extends Plugin>> PLUGINS = List.of(
        org.opensearch.transport.Netty4Plugin.class,
        org.opensearch.analysis.common.CommonAnalysisPlugin.class,
        org.opensearch.painless.PainlessPlugin.class,
        org.opensearch.index.reindex.ReindexPlugin.class,
        org.opensearch.index.mapper.MapperExtrasPlugin.class
    );

    /** Node.Node(Environment, Collection, boolean) is protected: that is the classpath-plugin door. */
    static final class DevNode extends Node {
        DevNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    private static final String LOG4J2 = String.join("\n",
        "status = error",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n",
        "rootLogger.level = info",
        "rootLogger.appenderRef.console.ref = console",
        "");

    private OpenSearchDev() {}

    public static void main(String[] args) throws Exception {
        // Before anything touches log4j (the distribution's jvm.options does the same).
        System.setProperty("log4j.shutdownHookEnabled", "false");
        System.setProperty("log4j2.disable.jmx", "true");

        int nodes = 1, index = 0, httpBase = 9200, transportBase = 9300, readyTimeout = 120;
        String data = ".data/opensearch", clusterName = "infowork-dev", pidFile = null;
        List<String> extra = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                usage(null);
            }
            if (i + 1 >= args.length) {
                usage("missing value for " + a);
            }
            String v = args[++i];
            switch (a) {
                case "--nodes": nodes = Integer.parseInt(v); break;
                case "--node-index": index = Integer.parseInt(v); break;
                case "--base-http-port": httpBase = Integer.parseInt(v); break;
                case "--base-transport-port": transportBase = Integer.parseInt(v); break;
                case "--data": data = v; break;
                case "--cluster-name": clusterName = v; break;
                case "--ready-timeout": readyTimeout = Integer.parseInt(v); break;
                case "--pid-file": pidFile = v; break;
                case "--setting": extra.add(v); break;
                default: usage("unknown option " + a);
            }
        }
        if (nodes < 1 || index < 0 || index >= nodes) {
            usage("need 0 <= --node-index < --nodes");
        }

        if (pidFile != null) {
            Files.writeString(Paths.get(pidFile), ProcessHandle.current().pid() + "\n", StandardCharsets.UTF_8);
        }

        String nodeName = "node-" + index;
        int httpPort = httpBase + index;
        Path home = Paths.get(data).toAbsolutePath().resolve(nodeName);
        for (String sub : new String[] {"config", "data", "logs", "plugins", "modules", "tmp"}) {
            Files.createDirectories(home.resolve(sub));
        }

        Settings.Builder s = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", clusterName)
            .put("node.name", nodeName)
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportBase + index)
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            // A development/CI disk is often fuller than the default 85/90/95% watermarks allow.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // 2 cores: keep thread pools small.
            .put("node.processors", Math.min(Runtime.getRuntime().availableProcessors(), 2));
        if (nodes == 1) {
            s.put("discovery.type", "single-node");
        } else {
            List<String> seeds = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (int i = 0; i < nodes; i++) {
                seeds.add("127.0.0.1:" + (transportBase + i));
                names.add("node-" + i);
            }
            s.putList("discovery.seed_hosts", seeds);
            s.putList("cluster.initial_cluster_manager_nodes", names);
        }
        for (String kv : extra) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                usage("--setting needs key=value: " + kv);
            }
            s.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        Settings settings = s.build();

        // Logs go to stdout (run.sh sends them to DATA/node-I.log); INFO like the distribution.
        Files.writeString(home.resolve("config").resolve("log4j2.properties"), LOG4J2, StandardCharsets.UTF_8);
        Environment env = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), home.resolve("config"), () -> nodeName);
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(nodeName);
        LogConfigurator.configure(env);

        long t0 = System.nanoTime();
        Node node = new DevNode(env, PLUGINS);
        CountDownLatch stopped = new CountDownLatch(1);
        final Path pidPath = pidFile == null ? null : Paths.get(pidFile);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("OPENSEARCH STOPPING " + nodeName);
            try {
                node.close();
                if (!node.awaitClose(30, TimeUnit.SECONDS)) {
                    System.out.println("OPENSEARCH node did not close within 30s");
                }
            } catch (Exception e) {
                e.printStackTrace();
            }
            if (pidPath != null) {
                try {
                    Files.deleteIfExists(pidPath);
                } catch (IOException ignored) {
                    // best effort
                }
            }
            System.out.println("OPENSEARCH STOPPED " + nodeName);
            System.out.flush();
            stopped.countDown();
        }, "opensearch-dev-shutdown"));

        try {
            node.start();
        } catch (Throwable t) {
            // e.g. a port already in use: say so and leave (the hook closes what was started)
            System.err.println("OPENSEARCH FAILED to start " + nodeName + ": " + t);
            t.printStackTrace();
            System.exit(1);
        }

        String url = "http://127.0.0.1:" + httpPort;
        if (!waitReady(url, readyTimeout)) {
            System.out.println("OPENSEARCH NOT READY after " + readyTimeout + "s: " + url);
            System.exit(1);
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("OPENSEARCH READY " + url + " node=" + nodeName + " nodes=" + nodes
            + " startup_ms=" + ms);
        System.out.flush();

        // Node threads are daemons in places; hold the JVM until a signal runs the hook.
        stopped.await();
    }

    /** Polls _cluster/health until the cluster has a cluster manager and is at least yellow. */
    private static boolean waitReady(String url, int timeoutSecs) throws InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest req = HttpRequest.newBuilder(
                URI.create(url + "/_cluster/health?wait_for_status=yellow&timeout=2s"))
            .timeout(Duration.ofSeconds(10)).GET().build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSecs);
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200 && !r.body().contains("\"timed_out\":true")) {
                    return true;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        return false;
    }

    private static void usage(String err) {
        if (err != null) {
            System.err.println("OpenSearchDev: " + err);
        }
        System.err.println("usage: OpenSearchDev [--nodes N] [--node-index I] [--base-http-port P]"
            + " [--base-transport-port T] [--data DIR] [--cluster-name NAME] [--ready-timeout SECS]"
            + " [--pid-file FILE] [--setting key=value]...");
        System.exit(err == null ? 0 : 2);
    }
}
