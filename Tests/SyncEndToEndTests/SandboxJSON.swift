import Sandbox

/// The sandbox's own JSON type: this file imports the sandbox alone, so the name is unambiguous.
typealias SandboxJSON = JSONValue
typealias SandboxObject = JSONObject
