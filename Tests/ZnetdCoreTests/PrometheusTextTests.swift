import Testing

@testable import ZnetdCore

@Test func prometheusTextHasEveryFamilyOnceWithServiceLabels() throws {
    let service = try JSONParser.parse("""
        {"name": "web", "connections_total": 7, "connections_active": 2, "bytes_in": 100, "bytes_out": 2000,
         "failed_connects": 1, "wakeups": 3, "held": 4,
         "wakeup_histogram": {"le": [0.01, 0.5, 60], "counts": [1, 2, 3], "count": 3, "sum_seconds": 0.75},
         "backends": [{"address": "10.0.0.1:80", "up": true}, {"address": "app.internal:80 (10.0.0.2:80)", "up": false}]}
        """)
    let text = PrometheusText.render(services: [service, .object([("name", .string("db\"x"))])])
    let lines = text.split(separator: "\n").map(String.init)
    for family in ["znetd_connections_total", "znetd_connections_active", "znetd_bytes_total", "znetd_wakeups_total",
                   "znetd_wakeup_duration_seconds", "znetd_backend_up", "znetd_hold_queue_length"] {
        #expect(lines.filter { $0.hasPrefix("# TYPE \(family) ") }.count == 1)
        #expect(lines.filter { $0.hasPrefix("# HELP \(family) ") }.count == 1)
    }
    #expect(lines.contains("znetd_connections_total{service=\"web\"} 7"))
    #expect(lines.contains("znetd_connections_active{service=\"web\"} 2"))
    #expect(lines.contains("znetd_bytes_total{service=\"web\",direction=\"in\"} 100"))
    #expect(lines.contains("znetd_bytes_total{service=\"web\",direction=\"out\"} 2000"))
    #expect(lines.contains("znetd_wakeups_total{service=\"web\"} 3"))
    #expect(lines.contains("znetd_wakeup_duration_seconds_bucket{service=\"web\",le=\"0.01\"} 1"))
    #expect(lines.contains("znetd_wakeup_duration_seconds_bucket{service=\"web\",le=\"60\"} 3"))
    #expect(lines.contains("znetd_wakeup_duration_seconds_bucket{service=\"web\",le=\"+Inf\"} 3"))
    #expect(lines.contains("znetd_wakeup_duration_seconds_sum{service=\"web\"} 0.75"))
    #expect(lines.contains("znetd_wakeup_duration_seconds_count{service=\"web\"} 3"))
    #expect(lines.contains("znetd_backend_up{service=\"web\",backend=\"10.0.0.1:80\"} 1"))
    #expect(lines.contains("znetd_backend_up{service=\"web\",backend=\"app.internal:80 (10.0.0.2:80)\"} 0"))
    #expect(lines.contains("znetd_hold_queue_length{service=\"web\"} 4"))
    // Label values are escaped; a service without counters reads as zeros.
    #expect(lines.contains("znetd_connections_total{service=\"db\\\"x\"} 0"))
    #expect(text.hasSuffix("\n"))
}
