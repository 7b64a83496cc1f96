extension ConfigLoader {
    /// The file name in the locations of errors from ``proxies(_:)``.
    public static let proxySpecFile = "--proxy"

    /// One-line mode: each spec is `LISTEN TARGET` (exactly two words, separated by whitespace),
    /// such as `:8080 127.0.0.1:9090`.
    ///
    /// Services are named `proxy1`, `proxy2`, ... in order; every other setting has its default.
    /// Errors are located at file `--proxy`, line N for the Nth spec, and the 1-based column of
    /// the bad word.
    public static func proxies(_ specs: [String]) throws(ConfigErrors) -> Configuration {
        var errors: [ConfigError] = []
        var contents = ConfigFileContents()
        for (index, spec) in specs.enumerated() {
            let line = index + 1
            let name = "proxy\(line)"
            let path = "services".keyPath(appending: name)
            let place = { (column: Int) in SourceLocation(file: proxySpecFile, line: line, column: column) }
            let words = wordsWithColumns(spec)
            guard words.count == 2 else {
                let found = words.isEmpty ? "nothing" : words.count == 1 ? "one word" : "\(words.count) words"
                errors.append(ConfigError(
                    location: place(words.count > 2 ? words[2].column : 1), keyPath: path,
                    message: "expected LISTEN TARGET, such as ':8080 127.0.0.1:9090'; found \(found)"))
                continue
            }
            var service = ServiceDefinition(name: name, location: place(1))
            let (listen, target) = (words[0], words[1])
            let listenPath = path.keyPath(appending: "listen"), targetPath = path.keyPath(appending: "target")
            do {
                let address = try parseListenAddress(listen.text)
                service.listen = [.init(address: address, location: place(listen.column), keyPath: listenPath)]
            } catch {
                errors.append(ConfigError(location: place(listen.column), keyPath: listenPath, message: error.message))
            }
            do {
                service.target = try parseTargetOrProgram(target.text)
            } catch {
                errors.append(ConfigError(location: place(target.column), keyPath: targetPath, message: error.message))
            }
            contents.services.append(service)
        }
        return try merge([DecodedFile(name: proxySpecFile, contents: contents, errors: errors)])
    }
}

/// The whitespace-separated words of `text` and the 1-based column each starts at.
private func wordsWithColumns(_ text: String) -> [(text: String, column: Int)] {
    var words: [(text: String, column: Int)] = []
    var inWord = false
    for (offset, character) in text.enumerated() {
        if character.isWhitespace {
            inWord = false
        } else if inWord {
            words[words.count - 1].text.append(character)
        } else {
            words.append((String(character), offset + 1))
            inWord = true
        }
    }
    return words
}
