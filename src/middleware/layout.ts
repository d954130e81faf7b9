// Renders every view inside views/layout.ejs, so pages hold only their own content.
import type { NextFunction, Request, Response } from 'express';

export function withLayout(_req: Request, res: Response, next: NextFunction): void {
  const render = res.render.bind(res);
  res.render = ((view: string, locals?: object, callback?: (err: Error, html: string) => void) => {
    render(view, locals ?? {}, (err: Error | null, body: string) => {
      if (err) return callback ? callback(err, '') : next(err);
      render('layout', { ...(locals ?? {}), body }, callback);
    });
  }) as Response['render'];
  next();
}
