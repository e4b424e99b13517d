/**
 * Checks responses against the service's OpenAPI document: the document itself with a real
 * OpenAPI validator (@seriousme/openapi-schema-validator), each response body with Ajv (JSON
 * Schema 2020-12, what OpenAPI 3.1 uses) against the schema the document gives for its route,
 * method, status and content type.
 */
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'

export interface SeenResponse {
  method: string
  /** The route as the document names it (`/v1/checks/{checkId}`). */
  route: string
  status: number
  contentType: string
  body: unknown
}

export async function openApiChecker(doc: any): Promise<{ errors: unknown[]; check(r: SeenResponse): string | null }> {
  const result = await new Validator().validate(doc)
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats.default(ajv)
  ajv.addSchema(doc, 'openapi.json')
  const pointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1')
  return {
    errors: result.valid ? [] : (result.errors as unknown[]) ?? ['invalid'],
    check(r) {
      const response = doc.paths[r.route]?.[r.method]?.responses?.[String(r.status)]
      if (!response) return `${r.method} ${r.route} ${r.status}: not in the document`
      const type = r.contentType.split(';')[0]!.trim()
      if (!response.content?.[type]) return `${r.method} ${r.route} ${r.status}: content type ${type} not documented (${Object.keys(response.content ?? {}).join(', ')})`
      const validate = ajv.getSchema(`openapi.json#/paths/${pointer(r.route)}/${r.method}/responses/${r.status}/content/${pointer(type)}/schema`)!
      return validate(r.body) ? null : `${r.method} ${r.route} ${r.status}: ${ajv.errorsText(validate.errors)}`
    },
  }
}
