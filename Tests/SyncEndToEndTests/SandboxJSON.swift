import Sandbox

typealias SandboxJSON = WireJSON
typealias SandboxObject = WireObject
