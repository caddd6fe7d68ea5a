// `ciliate observe`: the request its flags make, and how an L7 flow of the HTTP proxy prints.
import { expect } from 'chai';
import { parseArgs } from '../../cli/args.ts';
import { formatFlow, observeRequest } from '../../cli/observe.ts';
import { httpFlows } from '../support/hubble-http-flows.ts';

const args = (...argv: string[]) => parseArgs(argv, ['verdict', 'pod', 'type', 'last']);

describe('ciliate observe', () => {
  it('--type selects a monitor event type, with the other flags in the same filter', () => {
    expect(observeRequest(args('observe', '--type', 'l7', '--verdict', 'dropped')).whitelist).to.deep.equal([{ verdict: ['DROPPED'], event_type: [{ type: 129 }] }]);
    expect(() => observeRequest(args('observe', '--type', 'l8'))).to.throw(/--type must be one of drop, trace, policy-verdict, l7, not "l8"/);
  });

  it('prints an HTTP request and its response with verdict, summary and policy', () => {
    const [request, response] = httpFlows().slice(2, 4).map(formatFlow);
    expect(request).to.match(/default\/tiefighter:40001 \(ID:1001\) -> default\/deathstar-0:80 \(ID:1002\) http-request DROPPED \(HTTP\/1\.1 PUT http:\/\/deathstar\.default\.svc\.cluster\.local\/v1\/exhaust-port\) by CiliumNetworkPolicy\/default\/rule1$/);
    expect(response).to.match(/-> default\/tiefighter:40001 \(ID:1001\) http-response DROPPED \(HTTP\/1\.1 403 2ms \(PUT .*\)\) by CiliumNetworkPolicy\/default\/rule1$/);
  });
});
