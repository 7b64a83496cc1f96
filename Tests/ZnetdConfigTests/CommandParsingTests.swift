import Testing
@testable import ZnetdConfig

@Test func checksPrograms() {
    #expect(isValidProgram("/usr/bin/app"))
    #expect(isValidProgram("app"))
    #expect(!isValidProgram(""))
    #expect(!isValidProgram("bin/app"))
    #expect(!isValidProgram("./app"))
    #expect(!isValidProgram("/usr/bin/a\0b"))
}

@Test func checksEnvironmentNames() {
    for name in ["A", "_", "APP_MODE", "a1", "_9"] { #expect(isValidEnvironmentName(Substring(name))) }
    for name in ["", "1A", "A-B", "A B", "Ä", "A=B"] { #expect(!isValidEnvironmentName(Substring(name))) }
}

@Test func checksUsersAndGroups() {
    for name in ["app", "_app", "www-data", "first.last", "machine$", "0", "1000", "4294967294",
                 String(repeating: "a", count: 32)] {
        #expect(isValidUserOrGroup(name), "\(name)")
    }
    for name in ["", "a b", "-app", ".app", "1x", "4294967295", "99999999999", "$", "a$b", "é",
                 String(repeating: "a", count: 33)] {
        #expect(!isValidUserOrGroup(name), "\(name)")
    }
}
