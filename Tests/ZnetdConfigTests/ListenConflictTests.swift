import Testing
import ZnetdConfig

@Test func rejectsTheSameAddressTwiceInOneService() {
    #expect(problems("""
        services:
          web:
            listen: [":8080", "[::1]:8080"]
            target: "h:1"
        """) == [
            "test.yaml:3:23: services.web.listen[1]: listen address '[::1]:8080' conflicts with ':8080' "
                + "of service 'web' at test.yaml:3:14"
        ])
}

@Test func rejectsOverlappingAddressesAcrossServices() {
    #expect(problems("""
        services:
          a:
            listen: [":8080", "unix:/run/a.sock"]
            target: "h:1"
          b:
            listen: "interface:eth0:8080"
            target: "h:1"
          c:
            listen: ["127.0.0.1:8081", "unix:/run/a.sock", "[0::1]:8081"]
            target: "h:1"
          d:
            listen: ["[::1]:8081", "127.0.0.2:8081", "0.0.0.0:8081"]
            target: "h:1"
        """) == [
            "test.yaml:6:13: services.b.listen: listen address 'interface:eth0:8080' conflicts with ':8080' "
                + "of service 'a' at test.yaml:3:14",
            "test.yaml:9:32: services.c.listen[1]: listen address 'unix:/run/a.sock' conflicts with "
                + "'unix:/run/a.sock' of service 'a' at test.yaml:3:23",
            "test.yaml:12:14: services.d.listen[0]: listen address '[::1]:8081' conflicts with '[::1]:8081' "
                + "of service 'c' at test.yaml:9:52",
            "test.yaml:12:46: services.d.listen[2]: listen address '0.0.0.0:8081' conflicts with '127.0.0.1:8081' "
                + "of service 'c' at test.yaml:9:14",
        ])
}

@Test func acceptsSeparateAddresses() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        services:
          a: {listen: [":80", "127.0.0.1:81", "unix:/run/a.sock", "interface:eth0:82"], target: "h:1"}
          b: {listen: [":90", "127.0.0.2:81", "unix:@a.sock", "interface:eth1:82", "10.0.0.1:82"], target: "h:1"}
        """, file: "test.yaml")
    #expect(configuration.services.count == 2)
}
