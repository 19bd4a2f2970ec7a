/// Decodes HTML character references: `&amp;`, `&#233;`, `&#x1F600;` and the named references
/// that turn up in real pages. An unknown name is left as written.
enum HTMLEntities {
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "ensp": " ", "emsp": " ",
        "thinsp": " ", "shy": "", "zwj": "", "zwnj": "", "mdash": "—", "ndash": "–", "hellip": "…",
        "lsquo": "‘", "rsquo": "’", "sbquo": "‚", "ldquo": "“", "rdquo": "”", "bdquo": "„", "laquo": "«",
        "raquo": "»", "lsaquo": "‹", "rsaquo": "›", "bull": "•", "middot": "·", "prime": "′", "Prime": "″",
        "copy": "©", "reg": "®", "trade": "™", "deg": "°", "plusmn": "±", "times": "×", "divide": "÷",
        "micro": "µ", "para": "¶", "sect": "§", "cent": "¢", "pound": "£", "euro": "€", "yen": "¥",
        "le": "≤", "ge": "≥", "ne": "≠", "asymp": "≈", "equiv": "≡", "infin": "∞", "minus": "−",
        "larr": "←", "rarr": "→", "uarr": "↑", "darr": "↓", "harr": "↔", "rArr": "⇒", "lArr": "⇐",
        "sum": "∑", "prod": "∏", "radic": "√", "part": "∂", "nabla": "∇", "isin": "∈", "forall": "∀",
        "exist": "∃", "empty": "∅", "cap": "∩", "cup": "∪", "and": "∧", "or": "∨", "sdot": "⋅",
        "frac12": "½", "frac14": "¼", "frac34": "¾", "sup1": "¹", "sup2": "²", "sup3": "³",
        "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η",
        "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
        "omicron": "ο", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ",
        "chi": "χ", "psi": "ψ", "omega": "ω", "Delta": "Δ", "Sigma": "Σ", "Omega": "Ω", "Pi": "Π",
        "aacute": "á", "agrave": "à", "acirc": "â", "auml": "ä", "atilde": "ã", "aring": "å", "aelig": "æ",
        "ccedil": "ç", "eacute": "é", "egrave": "è", "ecirc": "ê", "euml": "ë", "iacute": "í", "igrave": "ì",
        "icirc": "î", "iuml": "ï", "ntilde": "ñ", "oacute": "ó", "ograve": "ò", "ocirc": "ô", "ouml": "ö",
        "otilde": "õ", "oslash": "ø", "uacute": "ú", "ugrave": "ù", "ucirc": "û", "uuml": "ü", "yacute": "ý",
        "szlig": "ß", "Aacute": "Á", "Eacute": "É", "Ouml": "Ö", "Uuml": "Ü", "Auml": "Ä", "Ccedil": "Ç",
        "iexcl": "¡", "iquest": "¿", "dagger": "†", "Dagger": "‡", "permil": "‰", "loz": "◊", "check": "✓",
    ]

    /// `text` with every character reference decoded.
    static func decode(_ text: Substring) -> String {
        guard text.utf8.contains(UInt8(ascii: "&")) else { return String(text) }
        var out = String()
        out.reserveCapacity(text.utf8.count)
        var index = text.startIndex
        while let amp = text[index...].firstIndex(of: "&") {
            out += text[index..<amp]
            // A reference is at most 32 characters up to its ';'.
            let limit = text.index(amp, offsetBy: 34, limitedBy: text.endIndex) ?? text.endIndex
            guard let semi = text[amp..<limit].firstIndex(of: ";") else {
                out += "&"
                index = text.index(after: amp)
                continue
            }
            let name = text[text.index(after: amp)..<semi]
            if let decoded = decodeReference(name) {
                out += decoded
                index = text.index(after: semi)
            } else {
                out += "&"
                index = text.index(after: amp)
            }
        }
        out += text[index...]
        return out
    }

    static func decodeReference(_ name: Substring) -> String? {
        if name.hasPrefix("#") {
            let digits = name.dropFirst()
            let value: UInt32?
            if digits.hasPrefix("x") || digits.hasPrefix("X") {
                value = UInt32(digits.dropFirst(), radix: 16)
            } else {
                value = UInt32(digits, radix: 10)
            }
            guard let value else { return nil }
            // NUL, surrogates and out-of-range values become U+FFFD, as browsers do.
            return String(Unicode.Scalar(value).map(Character.init) ?? "\u{FFFD}").replacingNUL()
        }
        return named[String(name)]
    }
}

extension String {
    fileprivate func replacingNUL() -> String { self == "\u{0}" ? "\u{FFFD}" : self }
}
