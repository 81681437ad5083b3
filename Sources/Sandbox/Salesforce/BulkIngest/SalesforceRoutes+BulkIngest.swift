import Hummingbird

/// The Bulk API 2.0 ingest routes under `/services/data/vXX.X/jobs/ingest` (see
/// ``SalesforceOrg`` for what each does and where Salesforce documents it).
extension SalesforceRoutes {
    func registerBulkIngest(on data: RouterGroup<SandboxRequestContext>) {
        let org = world.salesforce
        data.post("/jobs/ingest") { request, context in
            let body = try WireJSON.parse(try await HTTPReply.body(of: request, context: context))
            return HTTPReply.json(try org.createBulkJob(body, actor: context.actor, apiVersion: context.parameters.get("version") ?? "v60.0"))
        }
        data.get("/jobs/ingest") { _, _ in HTTPReply.json(org.bulkJobs()) }
        data.put("/jobs/ingest/:job/batches") { request, context in
            var request = request
            let limit = SalesforceOrg.bulkUploadLimit
            let buffer: ByteBuffer
            do {
                buffer = try await request.collectBody(upTo: limit)
            } catch {
                throw SalesforceAPIError(
                    status: 413,
                    [SalesforceError(code: "REQUEST_ENTITY_TOO_LARGE", message: "The upload exceeds 150 MB of base64 encoded content: split it over several jobs")])
            }
            try org.uploadBulkJob(try context.parameters.require("job"), data: Array(buffer.readableBytesView))
            return HTTPReply.empty(status: .created)
        }
        data.patch("/jobs/ingest/:job") { request, context in
            let body = try WireJSON.parse(try await HTTPReply.body(of: request, context: context))
            return HTTPReply.json(try org.setBulkJobState(try context.parameters.require("job"), body: body))
        }
        data.get("/jobs/ingest/:job") { _, context in
            HTTPReply.json(try await org.bulkJobInfo(try context.parameters.require("job"), actor: context.actor))
        }
        data.delete("/jobs/ingest/:job") { _, context in
            try org.deleteBulkJob(try context.parameters.require("job"))
            return HTTPReply.empty(status: .noContent)
        }
        data.get("/jobs/ingest/:job/:results") { _, context in
            guard let kind = SalesforceOrg.BulkResults(rawValue: try context.parameters.require("results")) else {
                throw SalesforceAPIError(status: 404, [SalesforceError(code: "NOT_FOUND", message: "The requested resource does not exist")])
            }
            let csv = try org.bulkResults(try context.parameters.require("job"), kind)
            return HTTPReply.bytes(csv, status: .ok, contentType: "text/csv")
        }
    }
}
