package org.apache.iceberg.rest;

import java.lang.reflect.Method;
import org.apache.iceberg.util.PropertyUtil;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * Apache Iceberg's reference REST catalog server, bound to 127.0.0.1 only.
 *
 * <p>RESTCatalogServer always listens on every interface; tests here must listen on loopback
 * only. This keeps Iceberg's own catalog set-up (CATALOG_* environment, backend catalog, the
 * servlet and its request adapter) and only replaces the Jetty connector. Port 0 picks a free
 * port; the chosen one is printed as "floe-iceberg-rest listening on 127.0.0.1:PORT".
 */
public final class LoopbackRESTCatalogServer {
  private LoopbackRESTCatalogServer() {}

  public static void main(String[] args) throws Exception {
    RESTCatalogServer reference = new RESTCatalogServer();
    Method init = RESTCatalogServer.class.getDeclaredMethod("initializeBackendCatalog");
    init.setAccessible(true);
    RESTCatalogServer.CatalogContext context = (RESTCatalogServer.CatalogContext) init.invoke(reference);

    ServletContextHandler handler = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    handler.addServlet(new ServletHolder(new RESTCatalogServlet(new RESTServerCatalogAdapter(context))), "/*");

    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(PropertyUtil.propertyAsInt(context.configuration(), RESTCatalogServer.REST_PORT, 8181));
    server.addConnector(connector);
    server.setHandler(handler);
    server.start();
    System.out.println("floe-iceberg-rest listening on 127.0.0.1:" + connector.getLocalPort());
    System.out.flush();
    server.join();
  }
}
